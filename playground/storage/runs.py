"""Run history: SQLite by default, any SQLAlchemy URL via $PLAYGROUND_DB. Keys are never stored."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy import (
    cast as sa_cast,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from playground.core.errors import UsageError
from playground.core.policy import LOCAL_OWNER
from playground.core.results import MONEY_FIELDS, CallError, RunResult, utc_now_iso
from playground.storage.writer import Pending, Writer, failure_reason

if TYPE_CHECKING:
    from playground.storage.media import StoredMedia

DB_ENV = "PLAYGROUND_DB"
DONE, STREAMING = "done", "streaming"
# A save waits this long for the writer before the caller is told "not saved yet" (it goes on retrying);
# twenty sessions streaming at once on 2 cores put some saves 3 s behind (bench/bench_sessions.py).
SAVE_WAIT_S = 10.0
# A run whose process has not refreshed its heartbeat for this long, and never finished it, was interrupted.
HEARTBEAT_EVERY_S = 5.0
INTERRUPTED_AFTER_S = 30.0


def default_db_url() -> str:
    """$PLAYGROUND_DB, else a SQLite file under the user's data directory."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("model-playground"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'history.db'}"


class StoreUnavailableError(UsageError):
    """The database cannot be used: a wrong URL, a server that refuses connections, an unknown schema.

    The message names the setting ($PLAYGROUND_DB) and the URL without its password."""


def shown_url(url: str) -> str:
    """The URL as it may be shown: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


class TableBase(DeclarativeBase):
    pass


def all_tables() -> Any:
    """The metadata of every table the store keeps (their modules imported), as the migrations make them."""
    from playground.storage import admissions, arena, deployments, evals, jobs, media, tuning, vectors  # noqa: F401 - their tables join TableBase.metadata

    return TableBase.metadata


class RunRow(TableBase):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="compare")
    prompt: Mapped[str] = mapped_column(Text)
    system: Mapped[str | None] = mapped_column(Text, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    models: Mapped[list[str]] = mapped_column(JSON)
    # Who ran it (hosted mode: OIDC issuer|subject); "local" in a local app and for rows made before owners.
    owner: Mapped[str] = mapped_column(String(512), index=True, server_default=LOCAL_OWNER)
    # Set when every model of the run has ended; heartbeat_at is refreshed while it runs (see StoredRun.state).
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The run this one follows up (its conversation's previous turn); None: it starts a conversation.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    results: Mapped[list[ResultRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ResultRow.id"
    )


class ResultRow(TableBase):
    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    ttft_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_tokens_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    usage_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Money as a decimal string: floats would round it, and SQLite has no exact decimal type.
    cost_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cost_source: Mapped[str] = mapped_column(String(64), default="unknown")
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[str] = mapped_column(String(40))
    queue_wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "done", or "streaming": the text so far of a call still going, saved about once a second.
    status: Mapped[str] = mapped_column(String(16), default=DONE, server_default=DONE)
    max_cost_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)  # RunResult's, as a string
    run: Mapped[RunRow] = relationship(back_populates="results")


class UsageRow(TableBase):
    """The ledger of every call's cost, by owner and time: daily spend and the admin report read it."""

    __tablename__ = "usage"
    __table_args__ = (Index("ix_usage_owner_at", "owner", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(512))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # run | eval | judge | embed
    ref_id: Mapped[str] = mapped_column(String(32))  # the run's, evaluation's or collection's id
    model: Mapped[str] = mapped_column(String(200))
    cost_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cost_source: Mapped[str] = mapped_column(String(64))
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The admission the call was charged under (NULL: a local app, or before admissions were shared) and
    # the most it was admitted to cost (NULL: no price); cost_usd above it is over-admission.
    admission_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    max_cost_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)


class UserRow(TableBase):
    """Who an owner id is: the name and verified e-mail of a signed-in user, as last seen."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class UsageRecord:
    """One call in the usage ledger."""

    owner: str
    at: datetime
    kind: str
    ref_id: str
    model: str
    cost_usd: Decimal | None
    cost_source: str
    error_kind: str | None
    max_cost_usd: Decimal | None = None  # the most the call was admitted to cost (None: no price known)

    @property
    def over_admission_usd(self) -> Decimal:
        """What the call cost beyond its admitted maximum (a usage report larger than the estimate)."""
        if self.cost_usd is None or self.max_cost_usd is None:
            return Decimal(0)
        return max(self.cost_usd - self.max_cost_usd, Decimal(0))


def usage_row(
    owner: str, kind: str, ref_id: str, result: RunResult, admission_id: str | None = None
) -> UsageRow:
    """The ledger row for one finished call: who paid (`owner`), for what (`kind`, `ref_id`), how much, and
    the admission it was charged under."""
    return UsageRow(
        owner=owner,
        at=datetime.now(UTC),
        kind=kind,
        ref_id=ref_id,
        model=result.model,
        cost_usd=_money(result.cost_usd),
        cost_source=result.cost_source,
        error_kind=result.error.kind if result.error else None,
        admission_id=admission_id,
        max_cost_usd=_money(result.max_cost_usd),
    )


def _money(value: Decimal | None) -> str | None:
    # Money as a decimal string: floats would round it, and SQLite has no exact decimal type.
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass
class StoredRun:
    """A run as read back from the store."""

    id: str
    created_at: datetime
    kind: str
    prompt: str
    system: str | None
    params: dict[str, Any]
    models: list[str]
    results: list[RunResult] = field(default_factory=list)
    owner: str = LOCAL_OWNER
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    parent_id: str | None = None  # the run this one follows up, in one conversation

    @property
    def state(self) -> str:
        """ "finished"; "running" (its process is still at it); or "interrupted" (its process stopped, or
        was killed, before every model ended: the answers it saved are kept, the rest are missing)."""
        if self.finished_at is not None:
            return "finished"
        beat = self.heartbeat_at or self.created_at
        if datetime.now(UTC) - as_utc(beat) < timedelta(seconds=INTERRUPTED_AFTER_S):
            return "running"
        return "interrupted"

    def results_in_order(self) -> list[RunResult]:
        """The results in the order the models were asked (they are saved as they end)."""
        rank = {key: i for i, key in enumerate(self.models)}
        return sorted(self.results, key=lambda r: (rank.get(r.model, len(rank)), r.repeat_index))

    @property
    def unanswered(self) -> list[str]:
        """The models asked that saved nothing at all (not even streamed text), in the order asked."""
        answered = {r.model for r in self.results}
        return [key for key in self.models if key not in answered]

    def state_note(self) -> str | None:
        """What a person opening this run must know about its state; None for a finished run."""
        if self.state == "finished":
            return None
        missing = f" No answer was saved for {', '.join(self.unanswered)}." if self.unanswered else ""
        if self.state == "running":
            return "Still running: answers appear here as they are saved." + missing
        last = as_utc(self.heartbeat_at or self.created_at)
        return (
            "Interrupted: the app stopped, or was killed, before every model ended (last sign of life "
            f"{last:%Y-%m-%d %H:%M:%S} UTC). What it saved is below, partial answers marked so.{missing}"
        )


# RunResult fields stored in a column of the same name and type, read off the dataclass so a new field
# cannot be forgotten here; cost_usd (a decimal string), error (two columns) and run_id (the foreign key)
# are mapped by hand.
_PLAIN_FIELDS = tuple(f.name for f in fields(RunResult) if f.name not in (*MONEY_FIELDS, "error", "run_id"))


def _to_result(row: ResultRow, run_state: str = "finished") -> RunResult:
    error = CallError(row.error_kind, row.error_message or "") if row.error_kind else None
    if row.status == STREAMING:  # the text so far of a call that had not ended when it was read
        error = CallError(
            run_state if run_state != "finished" else "interrupted",
            "still answering: the text so far"
            if run_state == "running"
            else "the app stopped before this answer ended: the text so far was kept",
        )
    return RunResult(
        **{name: getattr(row, name) for name in _PLAIN_FIELDS},
        **{name: _decimal(getattr(row, name)) for name in MONEY_FIELDS},
        error=error,
        run_id=row.run_id,
    )


def _to_row(run_id: str, result: RunResult) -> ResultRow:
    error = result.error
    return ResultRow(
        **{name: getattr(result, name) for name in _PLAIN_FIELDS},
        run_id=run_id,
        **{name: _money(getattr(result, name)) for name in MONEY_FIELDS},
        error_kind=error.kind if error else None,
        error_message=error.message if error else None,
    )


def _to_run(row: RunRow) -> StoredRun:
    run = StoredRun(
        id=row.id,
        created_at=row.created_at,
        kind=row.kind,
        prompt=row.prompt,
        system=row.system,
        params=row.params,
        models=list(row.models),
        owner=row.owner,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        parent_id=row.parent_id,
    )
    run.results = [_to_result(r, run.state) for r in row.results]
    return run


def _streaming(run_id: str, model: str, repeat_index: int) -> tuple[Any, ...]:
    """Where-clauses of one call's streamed-text row."""
    return (
        ResultRow.run_id == run_id,
        ResultRow.model == model,
        ResultRow.repeat_index == repeat_index,
        ResultRow.status == STREAMING,
    )


def as_utc(moment: datetime) -> datetime:
    """The same moment, marked UTC if the database handed it back naive."""
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Store:
    """Saves every run and result; the only module that talks to the database."""

    def __init__(self, url: str | None = None) -> None:
        """Open the database at `url` (default: $PLAYGROUND_DB, else a SQLite file) and migrate it;
        StoreUnavailableError says why it cannot be used."""
        self.url = url or default_db_url()
        self.engine: Engine = _engine(self.url)
        try:
            migrate(self.engine)
        except DBAPIError as exc:
            self.engine.dispose()
            reason = failure_reason(exc)
            raise StoreUnavailableError(
                f"cannot use the database at {shown_url(self.url)} ({DB_ENV}): {reason}"
            ) from exc
        except _unknown_revision_errors() as exc:
            self.engine.dispose()
            raise StoreUnavailableError(
                f"the database at {shown_url(self.url)} ({DB_ENV}) has a schema this version does not know "
                f"({exc}); it was probably made by a newer version of Model Playground"
            ) from exc
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Every write of this process goes through one writer, on an engine whose SQLite transactions
        # take the write lock at BEGIN (they wait for it, up to the busy timeout, instead of failing).
        writes = self.engine.execution_options(playground_writer=True)
        self._write_sessions = sessionmaker(writes, expire_on_commit=False)
        self.writer = Writer(self._write_sessions)

    @contextmanager
    def reading(self, write: bool = False) -> Iterator[Session]:
        """A session for reads (or, with `write`, a transaction for an interactive write such as a
        delete, or a job claimed from the queue); a database that does not answer is one
        StoreUnavailableError naming it. A write transaction takes SQLite's write lock at its start, as the
        writer's do, so it waits for another writer instead of failing with "database is locked"."""
        try:
            with self._write_sessions.begin() if write else self.sessions() as session:
                yield session
        except DBAPIError as exc:
            reason = failure_reason(exc)
            raise StoreUnavailableError(
                f"the history database at {shown_url(self.url)} ({DB_ENV}) is not answering: {reason}"
            ) from exc

    def create_run(
        self,
        prompt: str,
        models: Sequence[str],
        params: dict[str, Any],
        system: str | None = None,
        kind: str = "compare",
        owner: str = LOCAL_OWNER,
        parent_id: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new run (before any model is called) for `owner` and return its id (`run_id`, or a new
        one); `parent_id` names the run it follows up in a conversation.

        If the database is away, the id is returned anyway and the run is saved when it comes back."""
        run_id = run_id or uuid.uuid4().hex
        now = datetime.now(UTC)
        row = RunRow(
            id=run_id,
            created_at=now,
            heartbeat_at=now,
            kind=kind,
            prompt=prompt,
            system=system,
            params=json.loads(json.dumps(params, default=str)),
            models=list(models),
            owner=owner,
            parent_id=parent_id,
        )
        self.writer.save(f"run {run_id}", lambda session: session.add(row), SAVE_WAIT_S)
        return run_id

    def add_result(self, run_id: str, result: RunResult) -> Pending:
        """Save one finished call in place of its streamed text so far.

        Waits up to SAVE_WAIT_S: `Pending.saved` says whether it is saved (the writer goes on retrying)."""

        def write(session: Session) -> None:
            session.execute(delete(ResultRow).where(*_streaming(run_id, result.model, result.repeat_index)))
            session.add(_to_row(run_id, result))

        return self.writer.save(f"{result.model}'s answer in run {run_id}", write, SAVE_WAIT_S)

    def record_call(
        self, owner: str, kind: str, ref_id: str, result: RunResult, admission_id: str | None = None
    ) -> None:
        """Put one finished call in the usage ledger: every call that reached a model, cancelled ones
        included, whatever becomes of its run (the owner may delete it meanwhile: money spent stays spent).
        `admission_id` names the admission it was charged under (its reservation shrinks by the charge).

        A write of its own, with the owner given by the caller, so nothing about the run can undo it. It is
        handed to the writer before the admission's release, so it is committed first."""
        row = usage_row(owner, kind, ref_id, result, admission_id)
        self.writer.submit(f"usage of {result.model} in {kind} {ref_id}", lambda session: session.add(row))

    def save_partial(self, run_id: str, model: str, repeat_index: int, text: str) -> None:
        """Save a call's text so far (it streams): a newer one replaces an older one not yet written."""

        def write(session: Session) -> None:
            where = _streaming(run_id, model, repeat_index)
            if session.execute(update(ResultRow).where(*where).values(text=text)).rowcount == 0:
                session.add(
                    ResultRow(
                        run_id=run_id,
                        model=model,
                        repeat_index=repeat_index,
                        text=text,
                        status=STREAMING,
                        started_at=utc_now_iso(),
                    )
                )
            session.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=datetime.now(UTC)))

        self.writer.submit(
            f"text so far of {model} in run {run_id}", write, coalesce=f"{run_id}/{model}/{repeat_index}"
        )

    def heartbeat(self, run_id: str) -> None:
        """Say the run's process is still at it (see StoredRun.state)."""

        def write(session: Session) -> None:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=datetime.now(UTC)))

        self.writer.submit(f"heartbeat of run {run_id}", write, coalesce=f"{run_id}/heartbeat")

    def finish_run(self, run_id: str) -> Pending:
        """Mark the run finished: every model has ended (answered, failed or was stopped)."""

        def write(session: Session) -> None:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(finished_at=datetime.now(UTC)))

        return self.writer.save(f"end of run {run_id}", write, SAVE_WAIT_S)

    def get_run(self, run_id: str) -> StoredRun | None:
        """One run with its results, or None."""
        with self.reading() as session:
            row = session.get(RunRow, run_id)
            return _to_run(row) if row is not None else None

    def media_of(self, run_id: str) -> list[StoredMedia]:
        """The files a run keeps beside its answers (a speech or image comparison's: see storage/media.py)."""
        from playground.storage.media import read_media

        return read_media(self, run_id)

    def list_runs(
        self,
        *,
        model: str | None = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        owner: str | None = None,
        limit: int = 200,
    ) -> list[StoredRun]:
        """Newest first, filtered by owner (None: everyone's), part of a model key (any case; a run that
        saved no answer matches on the models it was asked of), prompt/answer text and date range."""
        query = select(RunRow).order_by(RunRow.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(RunRow.owner == owner)
        if model:
            # The models column is a JSON list of keys: its text holds every key, on SQLite and PostgreSQL.
            # Quotes, brackets and commas are the list's own punctuation, never part of a key.
            key_part = model.translate(str.maketrans("", "", '"[],')).strip()
            query = query.where(sa_cast(RunRow.models, String).icontains(key_part, autoescape=True))
        if text:
            query = query.where(
                or_(
                    RunRow.prompt.icontains(text, autoescape=True),
                    RunRow.id.in_(
                        select(ResultRow.run_id).where(ResultRow.text.icontains(text, autoescape=True))
                    ),
                )
            )
        if since:
            query = query.where(RunRow.created_at >= since)
        if until:
            query = query.where(RunRow.created_at <= until)
        with self.reading() as session:
            return [_to_run(row) for row in session.scalars(query)]

    def conversation(self, run_id: str, max_turns: int = 200) -> list[StoredRun]:
        """The runs of `run_id`'s conversation up to it, first turn first ([] if it does not exist)."""
        turns: list[StoredRun] = []
        with self.reading() as session:
            row = session.get(RunRow, run_id)
            while row is not None and len(turns) < max_turns:
                turns.append(_to_run(row))
                row = session.get(RunRow, row.parent_id) if row.parent_id else None
        return turns[::-1]

    def follow_ups(self, run_id: str) -> list[StoredRun]:
        """The runs that continue `run_id`'s conversation after it (deleting it deletes them too)."""
        found: list[StoredRun] = []
        frontier = [run_id]
        with self.reading() as session:
            while frontier:
                rows = list(session.scalars(select(RunRow).where(RunRow.parent_id.in_(frontier))))
                found += [_to_run(row) for row in rows]
                frontier = [row.id for row in rows]
        return found

    def recent_answers(self, model: str, limit: int = 30) -> list[RunResult]:
        """The newest finished, error-free calls of `model` that have timings and token counts (newest
        first): what this installation measured of its speed."""
        query = (
            select(ResultRow)
            .where(
                ResultRow.model == model,
                ResultRow.status == DONE,
                ResultRow.error_kind.is_(None),
                ResultRow.ttft_s.is_not(None),
                ResultRow.input_tokens.is_not(None),
                ResultRow.output_tokens_per_s.is_not(None),
            )
            .order_by(ResultRow.id.desc())
            .limit(limit)
        )
        with self.reading() as session:
            return [_to_result(row) for row in session.scalars(query)]

    def delete_run(self, run_id: str, *, owner: str | None = None) -> bool:
        """Delete a run and its results (only if `owner` owns it, when given); True if it was deleted.

        The usage ledger keeps its calls: money spent stays spent."""
        with self.reading(write=True) as session:
            owned = select(RunRow.id).where(RunRow.id == run_id)
            if owner is not None:
                owned = owned.where(RunRow.owner == owner)
            if session.scalar(owned) is None:
                return False
            session.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
            return bool(session.execute(delete(RunRow).where(RunRow.id == run_id)).rowcount)

    def remember_user(self, user_id: str, name: str, email: str | None) -> None:
        """Record who a signed-in user is (at sign-in), so reports can name owners."""

        def write(session: Session) -> None:
            values = {"name": name[:300], "email": email, "last_seen": datetime.now(UTC)}
            if session.execute(update(UserRow).where(UserRow.id == user_id).values(**values)).rowcount == 0:
                session.add(UserRow(id=user_id, **values))

        self.writer.submit(f"user {user_id}", write, coalesce=f"user/{user_id}")

    def user_names(self) -> dict[str, str]:
        """Owner id -> "name <e-mail>" for every user seen."""
        with self.reading() as session:
            return {
                row.id: f"{row.name} <{row.email}>" if row.email else row.name
                for row in session.scalars(select(UserRow))
            }

    def spent_since(self, owner: str, since: datetime) -> Decimal:
        """What `owner`'s calls cost since `since` (calls of unknown price count as 0)."""
        query = select(UsageRow.cost_usd).where(UsageRow.owner == owner, UsageRow.at >= since)
        with self.reading() as session:
            # Summed here, exactly: the costs are decimal strings (SQL would sum them as floats).
            return sum((Decimal(c) for c in session.scalars(query) if c is not None), Decimal(0))

    def spent_on(self, ref_id: str) -> Decimal:
        """What the calls of one run or evaluation cost so far (its judge's included; unknown prices as 0)."""
        query = select(UsageRow.cost_usd).where(UsageRow.ref_id == ref_id)
        with self.reading() as session:
            return sum((Decimal(c) for c in session.scalars(query) if c is not None), Decimal(0))

    def usage_since(self, since: datetime) -> list[UsageRecord]:
        """Every call in the ledger since `since`, oldest first (the admin report)."""
        query = select(UsageRow).where(UsageRow.at >= since).order_by(UsageRow.at)
        with self.reading() as session:
            return [
                UsageRecord(
                    row.owner,
                    row.at,
                    row.kind,
                    row.ref_id,
                    row.model,
                    _decimal(row.cost_usd),
                    row.cost_source,
                    row.error_kind,
                    _decimal(row.max_cost_usd),
                )
                for row in session.scalars(query)
            ]


def _engine(url: str) -> Engine:
    try:
        # SQLite: wait up to 30 s for another process's write lock (the CLI beside the app) before failing.
        sqlite = url.startswith("sqlite")
        options: dict[str, Any] = (
            {"connect_args": {"timeout": 30}, "module": sqlite_module()} if sqlite else {}
        )
        engine = create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:  # ImportError: no driver
        raise StoreUnavailableError(
            f"{DB_ENV} is not a database URL this install can open: {shown_url(url)} ({exc}); "
            "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _unknown_revision_errors() -> tuple[type[Exception], ...]:
    from alembic.util.exc import CommandError

    return (CommandError,)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# What the store made with create_all() before it had migrations (see _baseline): a database with tables but no
# alembic_version is at this revision.
BASELINE_REVISION = "0001"


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema with Alembic, keeping every run and evaluation.

    Runs at every start (a no-op when up to date). If another process (the CLI beside the dashboard) is
    migrating the same database at that moment, one of the two fails and tries once more after it.
    """
    try:
        _upgrade(engine)
    except DBAPIError:
        time.sleep(1.0)
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        baseline = _baseline(connection)
        if baseline is not None:
            command.stamp(config, baseline)
        command.upgrade(config, "head")


def _baseline(connection: Any) -> str | None:
    """The revision a database made before migrations is at, or None (it has one, or no tables yet).

    Before migrations the store made its tables with create_all(): 0001's schema, or (for a short time
    before Alembic) 0002's, with results.queue_wait_s already there."""
    from alembic.migration import MigrationContext

    inspector = inspect(connection)
    if MigrationContext.configure(connection).get_current_revision() is not None:
        return None
    if "runs" not in inspector.get_table_names():
        return None
    columns = {column["name"] for column in inspector.get_columns("results")}
    return "0002" if "queue_wait_s" in columns else BASELINE_REVISION


def _sqlite_begin(connection: Any) -> None:
    # With the driver's own transaction handling off (see _sqlite_pragmas), every transaction starts
    # here, DDL included: a migration that fails leaves nothing half done. The writer's transactions take
    # the write lock at once (IMMEDIATE), so they wait for it under the busy timeout: a deferred one that
    # reads first cannot wait to upgrade its lock and fails with "database is locked".
    immediate = connection.get_execution_options().get("playground_writer")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_module() -> Any:
    """The SQLite driver: pysqlite3 where its wheel exists (Linux x86_64), else Python's own sqlite3.

    Vector search runs inside the store with the sqlite-vec extension, and Python builds often come
    without extension loading (this machine's does: `enable_load_extension` is missing); pysqlite3-binary
    is the same driver with a current SQLite that can load it."""
    try:
        import pysqlite3.dbapi2 as driver  # type: ignore[import-not-found]
    except ImportError:
        import sqlite3 as driver
    return driver


def _load_sqlite_vec(dbapi_connection: Any) -> None:
    # Loaded on every connection (an extension lives per connection); a driver that cannot load it
    # leaves vector search unavailable, and the documents pages say so (storage.vectors).
    if not hasattr(dbapi_connection, "enable_load_extension"):
        return
    try:
        import sqlite_vec
    except ImportError:
        return
    dbapi_connection.enable_load_extension(True)
    try:
        sqlite_vec.load(dbapi_connection)
    finally:
        dbapi_connection.enable_load_extension(False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 commits on its own before DDL statements; SQLAlchemy's documented recipe turns
    # that off so transactions (and Alembic's migrations) are real.
    dbapi_connection.isolation_level = None
    # WAL lets the dashboard read history while a run writes; foreign keys make cascades real.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database; a power cut may lose the last commits, not the file.
    # FULL syncs at every commit, which put saves seconds behind with twenty sessions streaming.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    _load_sqlite_vec(dbapi_connection)
