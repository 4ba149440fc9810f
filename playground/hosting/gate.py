"""Admission: every run is checked against its user's limits and daily budget before any upstream call.

The decision is taken in the shared database (`storage.admissions`), in one transaction under a lock on
the user, so the limits hold across every replica: the runs going and the cost they reserved are read
there, whichever process started them, with the spend so far from the usage ledger. One Gate per process
keeps that process's tickets: it frees a ticket's reservation when its run ends and renews the process's
lease while any is going, so a process that dies frees its reservations when its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Literal, Protocol

from playground.core.errors import UsageError
from playground.core.policy import (
    ADMISSION_LEASE_S,
    ALLOW_UNPRICED_ENV,
    DAILY_USD_ENV,
    LIMIT_SETTINGS,
    LOCAL_OWNER,
    HostedPolicy,
    Limits,
    User,
    day_start,
    next_reset,
)

if TYPE_CHECKING:
    from playground.storage.admissions import AdmissionStore, Standing
    from playground.storage.runs import Store

# A ticket whose run has shown no sign of life for this long stops counting (a run touches its ticket at
# least every few seconds while it goes; a session that vanished without ending its run cannot hold a
# user's place for ever).
TICKET_IDLE_S = 900.0
_log = logging.getLogger(__name__)
# How often the keeper frees the reservations of runs that ended (a `done` set, an idle ticket).
SWEEP_EVERY_S = 1.0

What = Literal["comparison", "evaluation", "embedding", "speech", "image", "tune"]


class LimitExceededError(UsageError):
    """A run refused before any call: the message names the limit, the figures and when it resets."""


class RunsGoingError(LimitExceededError):
    """Refused because the user has as many runs going as allowed: unlike a budget or a cap, waiting helps
    (a queued evaluation goes back to the queue instead of failing)."""


class _Done(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Ask:
    """What a run asks for, computed before it starts."""

    what: What
    calls: int  # upstream calls at most (repeat × models, rows × models, judge calls included)
    max_tokens: int  # the largest max-tokens of any call
    max_cost_usd: Decimal  # the pre-run maximum cost of the models with a known price
    unpriced: Sequence[str] = ()  # hosted models with no known price
    concurrency: int = 1  # calls at once (evaluations; a comparison runs its models at once, capped by calls)
    detail: str = ""  # what is asked for, in a refusal's words ("120 texts with text-embedding-3-small")

    @property
    def subject(self) -> str:
        """'this comparison', or 'this embedding (120 texts with …)' with its detail."""
        return f"this {self.what}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Ticket:
    """An admitted run; it counts against its user until it is released, its run's `done` is set, or it
    has been idle for TICKET_IDLE_S. Its `id` is the admission's: the run's calls are charged under it."""

    owner: str
    reserved_usd: Decimal
    done: _Done | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Frees the reservation in the shared database, waiting up to the seconds given (None: the store's own
    # save wait) for it to be written. None: a local app, nothing was reserved.
    on_release: Callable[[float | None], object] | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    _freeing: threading.Lock = field(default_factory=threading.Lock)
    _freed: bool = False
    _touched: float = field(default_factory=time.monotonic)

    @property
    def ended(self) -> bool:
        """True once the run has ended (or gave no sign of life for too long)."""
        return (
            self._released.is_set()
            or (self.done is not None and self.done.is_set())
            or time.monotonic() - self._touched > TICKET_IDLE_S
        )

    @property
    def admission_id(self) -> str | None:
        """The admission the run's calls are charged under in the ledger (None in a local app)."""
        return self.id if self.on_release is not None else None

    def touch(self) -> None:
        """Say the run is still going."""
        self._touched = time.monotonic()

    def release(self, wait_s: float | None = None) -> None:
        """Say the run has ended: its place and whatever it did not spend of its reservation are free
        (once; written after the ledger rows its calls handed over before; waits up to `wait_s`, by default
        the store's save wait, for it)."""
        self._released.set()
        if self.on_release is None:
            return
        with self._freeing:  # a second caller returns once the first caller's release is handed over
            if not self._freed:
                self._freed = True
                self.on_release(wait_s)


class Gate:
    """Admits runs under the hosted policy; in local mode it admits everything and keeps nothing.

    `lease_s`: how long this process's reservations outlive it if it dies (an evaluation worker sets its
    job lease)."""

    def __init__(self, policy: HostedPolicy, lease_s: float | None = None) -> None:
        self.policy = policy
        self.lease_s = lease_s or ADMISSION_LEASE_S
        self._tickets: list[tuple[Ticket, AdmissionStore]] = []
        self._admissions: weakref.WeakKeyDictionary[Store, AdmissionStore] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def check(self, user: User, ask: Ask, store: Store | None) -> None:
        """Raise LimitExceededError if `user` may not start this run now (nothing is reserved)."""
        if not self._static_refusal(user, ask, store):
            return
        assert store is not None
        self._sweep()
        self._refuse(self.policy.limits, self._admissions_of(store).standing(user.id, day_start()), ask)

    def admit(self, user: User, ask: Ask, store: Store | None, done: _Done | None = None) -> Ticket:
        """Check, then hold the run's place and maximum cost until it ends; raise LimitExceededError.

        In hosted mode the check and the reservation are one transaction in the shared database."""
        if not self._static_refusal(user, ask, store):
            return Ticket(user.id, ask.max_cost_usd, done)
        assert store is not None
        self._sweep()  # this process's runs that just ended are freed before they are counted
        admissions = self._admissions_of(store)
        admission_id = admissions.admit(
            user.id,
            ask.what,
            ask.max_cost_usd,
            day_start(),
            lambda standing: self._refuse(self.policy.limits, standing, ask),
        )
        ticket = Ticket(
            user.id,
            ask.max_cost_usd,
            done,
            id=admission_id,
            on_release=lambda wait_s: admissions.release(admission_id, wait_s),
        )
        with self._lock:
            self._tickets.append((ticket, admissions))
            self._start_keeper()
        return ticket

    def going(self, user: User) -> list[Ticket]:
        """The user's runs still going in this process (the shared count is `storage.admissions`')."""
        self._sweep()
        with self._lock:
            return [ticket for ticket, _ in self._tickets if ticket.owner == user.id]

    def _static_refusal(self, user: User, ask: Ask, store: Store | None) -> bool:
        """Refuse (raise) what needs no database: no user, counts over their caps, a model with no price.
        False in a local app (nothing to check); True: the shared standing must be checked next."""
        if not self.policy.enabled:
            return False
        if user.id == LOCAL_OWNER or store is None:
            raise LimitExceededError("On a shared instance a run needs a signed-in user and the history.")
        limits = self.policy.limits
        _check_count(ask.max_tokens, limits.max_tokens, "max_tokens", "max tokens")
        if ask.what == "evaluation":
            _check_count(ask.concurrency, limits.eval_concurrency, "eval_concurrency", "calls at once")
        if ask.what != "embedding":
            # An embedding's calls are batches of texts: a file's are bounded by the document size limit,
            # a comparison's by the collection, and their money by the budget below.
            kind = "eval_calls" if ask.what == "evaluation" else "calls_per_run"  # speech: a comparison
            _check_count(ask.calls, getattr(limits, kind), kind, f"calls in {ask.subject}")
        refused = [key for key in ask.unpriced if not limits.allows_unpriced(key)]
        if refused:
            raise LimitExceededError(
                f"No price is known for {', '.join(refused)}, so its cost cannot be checked against your "
                f"budget. An admin can set its price in the models file or allow it ({ALLOW_UNPRICED_ENV})."
            )
        return True

    @staticmethod
    def _refuse(limits: Limits, standing: Standing, ask: Ask) -> None:
        """Raise LimitExceededError if the user's runs going, on every replica, leave no room for `ask`."""
        if standing.going >= limits.concurrent_runs:
            setting = LIMIT_SETTINGS["concurrent_runs"]
            raise RunsGoingError(
                f"You have {standing.going} runs going; the limit is {limits.concurrent_runs} at once "
                f"({setting.env}). Wait for one to finish or stop it."
            )
        if limits.daily_usd is not None:
            _check_budget(limits.daily_usd, standing, ask)

    def _admissions_of(self, store: Store) -> AdmissionStore:
        """This process's admissions in `store` (one holder per store, with this gate's lease)."""
        from playground.storage.admissions import AdmissionStore

        with self._lock:
            if store not in self._admissions:
                self._admissions[store] = AdmissionStore(store, self.lease_s)
            return self._admissions[store]

    def _sweep(self, wait_s: float | None = None) -> None:
        """Free the reservations of this process's runs that ended without a release (their `done` was
        set, or they went idle); wait up to `wait_s` for each (an admission that follows must see it)."""
        with self._lock:
            ended = [ticket for ticket, _ in self._tickets if ticket.ended]
            self._tickets = [(t, a) for t, a in self._tickets if not t.ended]
        for ticket in ended:
            ticket.release(wait_s)

    def _start_keeper(self) -> None:
        """Start the keeper thread unless it runs (called under the lock, with a ticket just added)."""
        if self._keeper is None or not self._keeper.is_alive():
            self._keeper = threading.Thread(target=self._keep, daemon=True, name="admission-keeper")
            self._keeper.start()

    def _keep(self) -> None:
        """While this process has runs going: renew their lease, and free the ones that ended. Nothing
        stops it but having no run left: a run whose lease lapsed would stop counting on other replicas."""
        while True:
            time.sleep(SWEEP_EVERY_S)
            with self._lock:
                holding = {id(a): a for _, a in self._tickets}
                if not holding:
                    self._keeper = None
                    return
            for admissions in holding.values():
                try:
                    admissions.renew(if_older_than_s=admissions.lease_s / 3)
                except Exception:  # noqa: BLE001 - a database away or a pool timeout: try again next turn
                    _log.warning(
                        "could not renew the admission lease of %s", admissions.holder, exc_info=True
                    )
            try:
                self._sweep(wait_s=0)  # handed to the writer, behind the ledger rows; never waited for here
            except Exception:  # noqa: BLE001 - the next turn sweeps again
                _log.warning("could not free ended runs' admissions", exc_info=True)


@cache
def default_gate() -> Gate:
    """The one gate of this process, under the policy its environment sets (HostingConfigError if bad)."""
    return Gate(HostedPolicy.from_env())


def _check_count(asked: int, limit: int, name: str, what: str) -> None:
    if asked > limit:
        raise LimitExceededError(
            f"This run asks for {asked} {what}; the limit is {limit} ({LIMIT_SETTINGS[name].env})."
        )


def _check_budget(cap: Decimal, standing: Standing, ask: Ask) -> None:
    spent, reserved = standing.spent_usd, standing.reserved_usd
    if spent + reserved + ask.max_cost_usd <= cap:
        return
    parts = [f"You have spent {_usd(spent)} USD today"]
    if reserved:
        parts.append(f"runs going may still spend up to {_usd(reserved)} USD")
    parts.append(f"{ask.subject} may cost up to {_usd(ask.max_cost_usd)} USD")
    raise LimitExceededError(
        "; ".join(parts)
        + f". Your daily limit is {_usd(cap)} USD ({DAILY_USD_ENV}); it resets {_reset_text(next_reset())}."
    )


def _usd(value: Decimal) -> str:
    # Six places, as the pages show call costs; trailing zeros dropped ("0.25", "0.000123").
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _reset_text(at: datetime) -> str:
    left = at - datetime.now(at.tzinfo)
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    return f"at {at:%Y-%m-%d %H:%M} UTC (in {hours} h {minutes} min)"
