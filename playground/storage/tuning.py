"""Fine-tuning jobs: one row per job (hosted API or, later, local), with what its followers learnt so far.

Any replica follows a job: it reads the row, asks upstream what changed, and saves the new state and
events here, so every replica shows the same job. Events are appended, never replaced: a failed or
cancelled job keeps everything it said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from playground.storage.runs import Store, TableBase, as_utc

TuningKind = Literal["openai", "azure", "local"]


class TuningJobRow(TableBase):
    __tablename__ = "tuning_jobs"
    __table_args__ = (Index("ix_tuning_jobs_owner_created_at", "owner", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    model_key: Mapped[str] = mapped_column(String(200))  # the base model's key in the models file
    provider_model: Mapped[str] = mapped_column(String(200))  # the model id the provider trains
    upstream_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    training_file_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(32))
    fine_tuned_model: Mapped[str | None] = mapped_column(String(300), nullable=True)
    epochs: Mapped[int] = mapped_column(Integer)
    training_tokens: Mapped[int] = mapped_column(Integer)  # per epoch, as checked before the start
    trained_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)  # as the provider reports
    estimated_cost_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)  # decimal string
    cost_source: Mapped[str] = mapped_column(String(200))
    price_per_mtok: Mapped[str | None] = mapped_column(String(40), nullable=True)  # training price at start
    settled_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)  # trained tokens × price, once
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    holdout: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # held-out examples: base vs tuned
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredTuningJob:
    """A fine-tuning job as last saved."""

    id: str
    owner: str
    kind: str
    model_key: str
    provider_model: str
    upstream_id: str | None
    training_file_id: str | None
    state: str
    fine_tuned_model: str | None
    epochs: int
    training_tokens: int
    trained_tokens: int | None
    estimated_cost_usd: Decimal | None
    cost_source: str
    price_per_mtok: Decimal | None
    settled_usd: Decimal | None  # the cost of the tokens the provider reports it trained (a succeeded job)
    events: tuple[dict[str, Any], ...]
    holdout: tuple[dict[str, Any], ...]
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewTuningJob:
    """What a job is saved with before anything is sent upstream."""

    id: str
    owner: str
    kind: str
    model_key: str
    provider_model: str
    epochs: int
    training_tokens: int
    estimated_cost_usd: Decimal | None
    cost_source: str
    price_per_mtok: Decimal | None
    holdout: Sequence[dict[str, Any]]


class TuningStore:
    """The fine-tuning jobs (same database as the runs)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, job: NewTuningJob) -> str:
        """Save a new job in state "starting" (nothing sent yet) and return its id."""
        now = datetime.now(UTC)
        row = TuningJobRow(
            id=job.id,
            owner=job.owner,
            kind=job.kind,
            model_key=job.model_key,
            provider_model=job.provider_model,
            state="starting",
            epochs=job.epochs,
            training_tokens=job.training_tokens,
            estimated_cost_usd=_money(job.estimated_cost_usd),
            cost_source=job.cost_source,
            price_per_mtok=_money(job.price_per_mtok),
            events=[],
            holdout=list(job.holdout),
            created_at=now,
            updated_at=now,
        )
        with self.store.reading(write=True) as session:
            session.add(row)
        return row.id

    def update(self, job_id: str, *, new_events: Sequence[dict[str, Any]] = (), **values: Any) -> None:
        """Save what a follower learnt: changed columns, and events appended (an event already saved, by
        id, is not added twice: two replicas may follow one job at once)."""
        with self.store.reading(write=True) as session:
            row = session.get(TuningJobRow, job_id, with_for_update=True)
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            if new_events:
                seen = {event.get("id") for event in row.events}
                row.events = [*row.events, *(e for e in new_events if e.get("id") not in seen)]
            row.updated_at = datetime.now(UTC)

    def settle(self, job_id: str, cost_usd: Decimal) -> bool:
        """Record the cost of what the provider reports it trained, once: True for the one caller that
        recorded it (it charges the difference from the estimate), False when another already had."""
        with self.store.reading(write=True) as session:
            row = session.get(TuningJobRow, job_id, with_for_update=True)
            if row is None or row.settled_usd is not None:
                return False
            row.settled_usd = str(cost_usd)
            return True

    def get(self, job_id: str) -> StoredTuningJob | None:
        """One job, or None."""
        with self.store.reading() as session:
            row = session.get(TuningJobRow, job_id)
            return None if row is None else _stored(row)

    def jobs(self, owner: str | None = None, limit: int = 100) -> list[StoredTuningJob]:
        """The newest jobs first (only `owner`'s when given)."""
        query = select(TuningJobRow).order_by(TuningJobRow.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(TuningJobRow.owner == owner)
        with self.store.reading() as session:
            return [_stored(row) for row in session.scalars(query)]


def _stored(row: TuningJobRow) -> StoredTuningJob:
    return StoredTuningJob(
        id=row.id,
        owner=row.owner,
        kind=row.kind,
        model_key=row.model_key,
        provider_model=row.provider_model,
        upstream_id=row.upstream_id,
        training_file_id=row.training_file_id,
        state=row.state,
        fine_tuned_model=row.fine_tuned_model,
        epochs=row.epochs,
        training_tokens=row.training_tokens,
        trained_tokens=row.trained_tokens,
        estimated_cost_usd=_decimal(row.estimated_cost_usd),
        cost_source=row.cost_source,
        price_per_mtok=_decimal(row.price_per_mtok),
        settled_usd=_decimal(row.settled_usd),
        events=tuple(row.events or ()),
        holdout=tuple(row.holdout or ()),
        error=row.error,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _money(value: Decimal | None) -> str | None:
    # Money as a decimal string, as the usage ledger keeps it (SQLite has no exact decimal type).
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
