"""The evaluation queue: evaluations waiting for a `playground worker`, the worker holding each, and its lease.

A worker claims the oldest waiting job with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL: two workers
never wait on each other or take the same job; SQLite takes one writer at a time, so the same statement is
safe there without the clause). Holding a job means renewing its lease; a job whose lease ran out (its
worker was killed, or lost the database) is claimed again by the next worker, which resumes it: the cells
already saved are never run again. A renewal that finds the job taken by another worker tells the old one
to stop at once, so one job never runs on two workers.

Leases are judged by the workers' clocks (the job rows hold UTC times): keep them in sync (NTP); a lease
is tens of seconds, far more than the drift of a synced clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from playground.core.errors import UsageError
from playground.storage.admissions import live_admissions
from playground.storage.evals import EvalRow  # noqa: F401 - the table a job refers to, known to the ORM
from playground.storage.runs import Store, TableBase, as_utc

JobState = Literal["queued", "running", "done", "stopped", "failed"]
QUEUED: JobState = "queued"
RUNNING: JobState = "running"
DONE: JobState = "done"
STOPPED: JobState = "stopped"
FAILED: JobState = "failed"
ENDED: tuple[JobState, ...] = (DONE, STOPPED, FAILED)
# How many of the oldest waiting jobs a claim looks at to pick the fairest (see JobStore.claim).
CLAIM_WINDOW = 50


class JobRow(TableBase):
    __tablename__ = "eval_jobs"
    __table_args__ = (Index("ix_eval_jobs_state_queued_at", "state", "queued_at"),)

    eval_id: Mapped[str] = mapped_column(ForeignKey("evals.id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16))
    cells: Mapped[int] = mapped_column(Integer)  # rows × models: a page follows done / cells
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WorkerRow(TableBase):
    __tablename__ = "eval_workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    job: Mapped[str | None] = mapped_column(String(32), nullable=True)


@dataclass(frozen=True)
class Job:
    """An evaluation's place in the queue, as last saved."""

    eval_id: str
    owner: str
    state: JobState
    cells: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None  # the worker holding it (running), or the last one that held it
    lease_until: datetime | None
    claims: int  # times a worker took it since it was (last) queued: more than 1, a worker went away
    stop_requested: bool
    error: str | None
    ahead: int = 0  # jobs queued before it (while it waits)

    @property
    def going(self) -> bool:
        """True while it waits or runs."""
        return self.state in (QUEUED, RUNNING)


@dataclass(frozen=True)
class Lease:
    """What a worker learns when it renews its lease on a job."""

    held: bool  # False: the job was taken by another worker (this one's lease had run out) or ended
    stop_requested: bool


@dataclass(frozen=True)
class WorkerSeen:
    """A worker process, as it last said it was alive."""

    id: str
    started_at: datetime
    seen_at: datetime
    job: str | None


class JobStore:
    """The queue of evaluations waiting for, or run by, worker processes (same database as the runs)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(self, eval_id: str, owner: str, cells: int) -> Job:
        """Queue an evaluation (new, or stopped / failed / finished, to run its missing cells); one already
        waiting or running stays as it is."""
        now = datetime.now(UTC)
        with self.store.reading(write=True) as session:
            row = session.get(JobRow, eval_id, with_for_update=True)
            if row is None:
                row = JobRow(eval_id=eval_id, owner=owner, state=QUEUED, cells=cells, queued_at=now, claims=0)
                session.add(row)
            elif row.state in ENDED:  # queued again by its owner: a new round, counted from its first claim
                row.state, row.queued_at, row.stop_requested, row.error = QUEUED, now, False, None
                row.lease_until, row.finished_at, row.claims = None, None, 0
            session.flush()
            return _job(row)

    def claim(self, worker: str, lease_s: float, *, max_per_owner: int | None = None) -> Job | None:
        """Take the next job for `worker`, holding it for `lease_s`; None when nothing waits.

        Waiting jobs, and running ones whose lease ran out, are candidates. Among the oldest of them, an
        owner with fewer jobs running goes first (one user's ten queued evaluations do not hold up another
        user's one), then the oldest; an owner already at `max_per_owner` running jobs waits."""
        now = datetime.now(UTC)
        with self.store.reading(write=True) as session:
            # Read the oldest candidates without locking them (a lock on all of them would hide them from
            # a second worker claiming at the same moment), then lock only the one chosen, skipping it if
            # another worker locked or took it meanwhile: the WHERE is checked again under the lock.
            candidates = session.execute(
                select(JobRow.eval_id, JobRow.owner, JobRow.queued_at)
                .where(_claimable(now))
                .order_by(JobRow.queued_at)
                .limit(CLAIM_WINDOW)
            ).all()
            running = _running_per_owner(session, now) if candidates else {}
            eligible = [
                c for c in candidates if max_per_owner is None or running.get(c.owner, 0) < max_per_owner
            ]
            for candidate in sorted(eligible, key=lambda c: (running.get(c.owner, 0), as_utc(c.queued_at))):
                row = session.scalars(
                    select(JobRow)
                    .where(JobRow.eval_id == candidate.eval_id, _claimable(now))
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    continue
                row.state, row.worker, row.lease_until = RUNNING, worker, now + timedelta(seconds=lease_s)
                row.claims += 1
                row.started_at = row.started_at or now
                session.flush()
                return _job(row)
            return None

    def renew(self, eval_id: str, worker: str, lease_s: float) -> Lease:
        """Extend `worker`'s lease on a job it runs; says whether it still holds it and whether its owner
        asked it to stop."""
        until = datetime.now(UTC) + timedelta(seconds=lease_s)
        with self.store.reading(write=True) as session:
            held = _held(eval_id, worker)
            if session.execute(update(JobRow).where(*held).values(lease_until=until)).rowcount == 0:
                return Lease(held=False, stop_requested=False)
            return Lease(True, bool(session.scalar(select(JobRow.stop_requested).where(*held))))

    def end(self, eval_id: str, worker: str, state: JobState, error: str | None = None) -> bool:
        """Record how `worker`'s job ended (done, stopped or failed); False if it no longer held it."""
        values = {"state": state, "finished_at": datetime.now(UTC), "lease_until": None, "error": error}
        with self.store.reading(write=True) as session:
            return bool(
                session.execute(update(JobRow).where(*_held(eval_id, worker)).values(**values)).rowcount
            )

    def release(self, eval_id: str, worker: str, *, ran: bool = True) -> bool:
        """Hand a job back to the queue (its worker is shutting down): the next worker resumes it at once,
        ahead of jobs queued after it. `ran=False`: nothing of it ran (its owner had no place free), so
        this claim does not count towards the claims after which a job is failed."""
        values: dict[str, object] = {"state": QUEUED, "worker": None, "lease_until": None}
        if not ran:
            values["claims"] = JobRow.claims - 1
        with self.store.reading(write=True) as session:
            return bool(
                session.execute(update(JobRow).where(*_held(eval_id, worker)).values(**values)).rowcount
            )

    def request_stop(self, eval_id: str, *, owner: str | None = None) -> Job | None:
        """Stop a job (only `owner`'s, when given): one still waiting ends now; a running one is cancelled
        by its worker within a lease renewal. None if there is no such job."""
        with self.store.reading(write=True) as session:
            row = session.get(JobRow, eval_id, with_for_update=True)
            if row is None or (owner is not None and row.owner != owner):
                return None
            if row.state == QUEUED:
                row.state, row.finished_at = STOPPED, datetime.now(UTC)
            elif row.state == RUNNING:
                row.stop_requested = True
            session.flush()
            return _job(row)

    def get(self, eval_id: str) -> Job | None:
        """An evaluation's job (with how many wait before it), or None if it was never queued."""
        with self.store.reading() as session:
            row = session.get(JobRow, eval_id)
            if row is None:
                return None
            ahead = 0
            if row.state == QUEUED:
                ahead = session.scalar(
                    select(func.count())
                    .select_from(JobRow)
                    .where(JobRow.state == QUEUED, JobRow.queued_at < row.queued_at)
                )
            return _job(row, ahead or 0)

    def check_deletable(self, eval_id: str) -> None:
        """UsageError if the evaluation's job is waiting or running (stop it first)."""
        job = self.get(eval_id)
        if job is not None and job.going:
            raise UsageError(
                "This evaluation is queued or running on a worker: stop it first, then delete it."
            )

    def seen(self, worker: str, job: str | None) -> None:
        """Say `worker` is alive (and which job it runs)."""
        now = datetime.now(UTC)
        with self.store.reading(write=True) as session:
            changed = session.execute(
                update(WorkerRow).where(WorkerRow.id == worker).values(seen_at=now, job=job)
            )
            if changed.rowcount == 0:
                session.add(WorkerRow(id=worker, started_at=now, seen_at=now, job=job))

    def gone(self, worker: str) -> None:
        """Say `worker` has stopped."""
        with self.store.reading(write=True) as session:
            session.execute(WorkerRow.__table__.delete().where(WorkerRow.id == worker))

    def workers_alive(self, within_s: float) -> list[WorkerSeen]:
        """Workers seen in the last `within_s` seconds."""
        since = datetime.now(UTC) - timedelta(seconds=within_s)
        with self.store.reading() as session:
            rows = session.scalars(select(WorkerRow).where(WorkerRow.seen_at >= since).order_by(WorkerRow.id))
            return [WorkerSeen(r.id, as_utc(r.started_at), as_utc(r.seen_at), r.job) for r in rows]


def _claimable(now: datetime) -> object:
    """Waiting, or running on a worker whose lease ran out."""
    return or_(JobRow.state == QUEUED, and_(JobRow.state == RUNNING, JobRow.lease_until < now))


def _held(eval_id: str, worker: str) -> tuple[object, ...]:
    return (JobRow.eval_id == eval_id, JobRow.worker == worker, JobRow.state == RUNNING)


def _running_per_owner(session: Session, now: datetime) -> dict[str, int]:
    """What each owner has going: their running jobs, or, if more, their live admissions on any replica
    (comparisons in the app count against the same limit, so a worker does not claim a job it cannot run)."""
    jobs = select(JobRow.owner, func.count()).where(JobRow.state == RUNNING, JobRow.lease_until >= now)
    running: dict[str, int] = {owner: count for owner, count in session.execute(jobs.group_by(JobRow.owner))}
    for owner, going in live_admissions(session).items():
        running[owner] = max(running.get(owner, 0), going)
    return running


def _maybe(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def _job(row: JobRow, ahead: int = 0) -> Job:
    return Job(
        eval_id=row.eval_id,
        owner=row.owner,
        state=row.state,  # type: ignore[arg-type] - only JobState values are written
        cells=row.cells,
        queued_at=as_utc(row.queued_at),
        started_at=_maybe(row.started_at),
        finished_at=_maybe(row.finished_at),
        worker=row.worker,
        lease_until=_maybe(row.lease_until),
        claims=row.claims,
        stop_requested=bool(row.stop_requested),
        error=row.error,
        ahead=ahead,
    )
