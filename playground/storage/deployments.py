"""Deployments in the shared database: which model each OpenAI-compatible server serves, where, since when.

A row is what every replica needs to list a deployment, check its health over HTTP and stop it: the
machine and process group that run it, the address it listens on, and the NAME of the environment
variable that holds its key (never the key). A server's process outlives the page run or CLI command that
started it, so the row, not any process's memory, is the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from playground.storage.runs import LOCAL_OWNER, Store, TableBase

# How many characters of a failed server's log the row keeps (its last lines).
LOG_TAIL_CHARS = 4000


class DeploymentRow(TableBase):
    """One served model: the `deployments` table (migration 0016)."""

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512), index=True)
    model: Mapped[str] = mapped_column(Text)  # the key asked for, or the GGUF path given (any length)
    served_name: Mapped[str] = mapped_column(String(256))  # the model id the server answers to
    gguf_path: Mapped[str] = mapped_column(Text)
    lora_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    machine: Mapped[str] = mapped_column(String(256))  # hostname of the machine that runs the process
    pid: Mapped[int] = mapped_column(Integer)  # leader of its own process group
    host: Mapped[str] = mapped_column(String(256))
    port: Mapped[int] = mapped_column(Integer)
    api_key_env: Mapped[str] = mapped_column(String(128))
    log_path: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # starting | ready | failed | stopped: the last state seen; failed and stopped are final.
    state: Mapped[str] = mapped_column(String(16))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    log_tail: Mapped[str | None] = mapped_column(Text, nullable=True)  # kept when it failed


@dataclass(frozen=True)
class StoredDeployment:
    """A deployment as read from the store."""

    id: str
    owner: str
    model: str
    served_name: str
    gguf_path: str
    lora_path: str | None
    machine: str
    pid: int
    host: str
    port: int
    api_key_env: str
    log_path: str
    started_at: datetime
    state: str
    stopped_at: datetime | None
    log_tail: str | None

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (what `base_url=` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def final(self) -> bool:
        """Stopped or failed: nothing runs any more."""
        return self.state in ("stopped", "failed")


def _stored(row: DeploymentRow) -> StoredDeployment:
    started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
    stopped = row.stopped_at
    if stopped is not None and stopped.tzinfo is None:
        stopped = stopped.replace(tzinfo=UTC)
    return StoredDeployment(
        id=row.id,
        owner=row.owner,
        model=row.model,
        served_name=row.served_name,
        gguf_path=row.gguf_path,
        lora_path=row.lora_path,
        machine=row.machine,
        pid=row.pid,
        host=row.host,
        port=row.port,
        api_key_env=row.api_key_env,
        log_path=row.log_path,
        started_at=started,
        state=row.state,
        stopped_at=stopped,
        log_tail=row.log_tail,
    )


class DeploymentStore:
    """The deployments of one store: add, read, and record what became of them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, deployment: StoredDeployment) -> None:
        """Record a started server (before anyone polls it)."""
        with self.store.reading(write=True) as session:
            session.add(DeploymentRow(**{**deployment.__dict__, "owner": deployment.owner or LOCAL_OWNER}))

    def get(self, deployment_id: str) -> StoredDeployment | None:
        with self.store.reading() as session:
            row = session.get(DeploymentRow, deployment_id)
            return None if row is None else _stored(row)

    def listed(self, include_final: bool = True) -> list[StoredDeployment]:
        """Every deployment, newest first (stopped and failed ones too, unless `include_final` is off)."""
        query = select(DeploymentRow).order_by(DeploymentRow.started_at.desc())
        if not include_final:
            query = query.where(DeploymentRow.state.in_(("starting", "ready")))
        with self.store.reading() as session:
            return [_stored(row) for row in session.scalars(query)]

    def mark(self, deployment_id: str, state: str, log_tail: str | None = None) -> None:
        """Record a state; a final one (failed, stopped) is never changed again."""
        with self.store.reading(write=True) as session:
            row = session.get(DeploymentRow, deployment_id)
            if row is None or row.state in ("stopped", "failed") or row.state == state:
                return
            row.state = state
            if state in ("stopped", "failed"):
                row.stopped_at = datetime.now(UTC)
            if log_tail is not None:
                row.log_tail = log_tail[-LOG_TAIL_CHARS:]
