"""Admissions in the shared database: the runs each user has going and the most they may still cost.

Every replica (app process, CLI, evaluation worker) admits through here, so one user's limits hold across
all of them. An admission is one transaction under a lock that serialises that user's admissions
(PostgreSQL: a transaction-level advisory lock keyed by the user; SQLite: the database's write lock, taken
at BEGIN IMMEDIATE): it reads what the user has going and has spent, lets the caller decide, and writes the
reservation, or nothing. Other users' admissions do not wait for it.

A reservation belongs to its process (a holder). A holder renews its lease while it has runs going; the
reservations of a process that died stop counting when its lease runs out, and are deleted later.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, String, delete, func, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from playground.core.policy import ADMISSION_LEASE_S
from playground.storage.runs import SAVE_WAIT_S, TableBase, UsageRow

if TYPE_CHECKING:
    from playground.storage.runs import Store

# Rows of holders whose lease ran out this long ago are deleted (they have not counted since then).
FORGET_AFTER = timedelta(hours=1)


class HolderRow(TableBase):
    """A process that holds reservations, and until when they count without a renewal."""

    __tablename__ = "admission_holders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid:random
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AdmissionRow(TableBase):
    """One admitted run (comparison, evaluation, embedding, arena turn) still going, and its reservation."""

    __tablename__ = "admissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512), index=True)
    holder: Mapped[str] = mapped_column(String(64), index=True)
    what: Mapped[str] = mapped_column(String(16))
    # The run's maximum cost as admitted (a decimal string); what its calls were charged is subtracted.
    reserved_usd: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Standing:
    """What one user has going, may still spend on it, and has spent, as read under their lock."""

    going: int  # admitted runs still going (any replica's, while its holder's lease holds)
    reserved_usd: Decimal  # what those runs may still cost: each one's reservation less what it was charged
    spent_usd: Decimal  # the usage ledger since `since` (calls of unknown price count as 0)


Decide = Callable[[Standing], None]


class AdmissionStore:
    """This process's admissions in one store: admit, release, and the holder's lease."""

    def __init__(self, store: Store, lease_s: float = ADMISSION_LEASE_S) -> None:
        """Admissions of this process in `store`; they stop counting `lease_s` after its last renewal (it
        renews every third of that while it has runs going)."""
        self.store = store
        self.lease_s = lease_s
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._renewed = float("-inf")  # time.monotonic() of the last renewal that committed
        self._renew_lock = threading.Lock()

    def admit(self, owner: str, what: str, reserved_usd: Decimal, since: datetime, decide: Decide) -> str:
        """Read `owner`'s standing under their lock, let `decide` refuse (it raises), else reserve
        `reserved_usd` for a new run; returns the admission's id. Nothing is written if `decide` raises."""
        self.renew(if_older_than_s=self.lease_s / 3)  # never reserve under a lease about to run out
        admission_id = uuid.uuid4().hex
        with self.store.reading(write=True) as session:
            _lock_owner(session, owner)
            now = _clock(session)
            decide(_standing(session, owner, since, now))
            session.add(
                AdmissionRow(
                    id=admission_id,
                    owner=owner,
                    holder=self.holder,
                    what=what,
                    reserved_usd=str(reserved_usd),
                    created_at=now,
                )
            )
        return admission_id

    def standing(self, owner: str, since: datetime) -> Standing:
        """`owner`'s standing now, without a lock (a check that reserves nothing)."""
        with self.store.reading() as session:
            return _standing(session, owner, since, _clock(session))

    def release(self, admission_id: str, wait_s: float | None = None) -> bool:
        """Free a reservation. It goes through the store's writer, after every ledger write handed to it
        before, so another replica never sees the run's spend in neither place; waits up to `wait_s`
        (None: SAVE_WAIT_S; 0: not at all) and says whether it was written by then."""

        def write(session: Session) -> None:
            session.execute(delete(AdmissionRow).where(AdmissionRow.id == admission_id))

        wait = SAVE_WAIT_S if wait_s is None else wait_s
        return self.store.writer.save(f"release of admission {admission_id}", write, wait).saved.is_set()

    def renew(self, if_older_than_s: float = 0.0) -> None:
        """Extend this process's lease (create its holder row the first time); forget long-dead holders."""
        with self._renew_lock:
            if time.monotonic() - self._renewed < if_older_than_s:
                return
            started = time.monotonic()
            with self.store.reading(write=True) as session:
                now = _clock(session)
                expires = now + timedelta(seconds=self.lease_s)
                found = session.execute(
                    update(HolderRow).where(HolderRow.id == self.holder).values(expires_at=expires)
                ).rowcount
                if not found:
                    session.add(HolderRow(id=self.holder, expires_at=expires))
                    _forget_dead(session, now - FORGET_AFTER)
            self._renewed = started


def _clock(session: Session) -> datetime:
    """Now, by the clock every holder's lease is compared on: PostgreSQL's own (replicas on several
    machines need not agree on the time); SQLite's database is on one machine, whose clock serves."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT clock_timestamp()"))  # now(), not the transaction's start
    return datetime.now(UTC)


def _lock_owner(session: Session, owner: str) -> None:
    """Serialise `owner`'s admissions until this transaction ends. SQLite's BEGIN IMMEDIATE already holds
    the database's write lock; PostgreSQL takes an advisory lock on a 64-bit digest of the owner (a
    collision only makes two users wait for each other)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"admission:{owner}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _standing(session: Session, owner: str, since: datetime, now: datetime) -> Standing:
    """`owner`'s live admissions (their holder's lease runs past `now`), each less what was charged under
    it, and the ledger's spend since `since`."""
    live = session.execute(
        select(AdmissionRow.id, AdmissionRow.reserved_usd)
        .join(HolderRow, HolderRow.id == AdmissionRow.holder)
        .where(AdmissionRow.owner == owner, HolderRow.expires_at > now)
    ).all()
    # One read of the day's ledger gives both sums; money is summed here, exactly (decimal strings).
    charged: dict[str | None, Decimal] = {}
    spent = Decimal(0)
    for admission, cost in session.execute(
        select(UsageRow.admission_id, UsageRow.cost_usd).where(UsageRow.owner == owner, UsageRow.at >= since)
    ):
        if cost is not None:
            spent += Decimal(cost)
            charged[admission] = charged.get(admission, Decimal(0)) + Decimal(cost)
    reserved = sum(
        (max(Decimal(usd) - charged.get(admission, Decimal(0)), Decimal(0)) for admission, usd in live),
        Decimal(0),
    )
    return Standing(going=len(live), reserved_usd=reserved, spent_usd=spent)


def live_admissions(session: Session) -> dict[str, int]:
    """Owner -> admissions still going (their holder's lease runs past now), on every replica."""
    query = (
        select(AdmissionRow.owner, func.count())
        .join(HolderRow, HolderRow.id == AdmissionRow.holder)
        .where(HolderRow.expires_at > _clock(session))
        .group_by(AdmissionRow.owner)
    )
    return {owner: count for owner, count in session.execute(query)}


def _forget_dead(session: Session, before: datetime) -> None:
    """Delete the holders whose lease ran out before `before`, and their admissions (long not counted)."""
    dead = select(HolderRow.id).where(HolderRow.expires_at < before)
    session.execute(delete(AdmissionRow).where(AdmissionRow.holder.in_(dead)))
    session.execute(delete(HolderRow).where(HolderRow.expires_at < before))
