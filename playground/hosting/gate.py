"""Admission: every run is checked against its user's limits and daily budget before any upstream call.

One Gate per server process is shared by every session. It keeps the runs going now (their tickets), so
two runs started at the same moment cannot both pass a budget only one of them fits, and it reads the
spend so far from the usage ledger. Replicas each have their own Gate; they share the ledger.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Literal, Protocol

from playground.core.errors import UsageError
from playground.core.policy import (
    ALLOW_UNPRICED_ENV,
    DAILY_USD_ENV,
    LIMIT_SETTINGS,
    LOCAL_OWNER,
    HostedPolicy,
    User,
    day_start,
    next_reset,
)

if TYPE_CHECKING:
    from playground.storage.runs import Store

# A ticket whose run has shown no sign of life for this long stops counting (a run touches its ticket at
# least every few seconds while it goes; a session that vanished without ending its run cannot hold a
# user's place for ever).
TICKET_IDLE_S = 900.0

What = Literal["comparison", "evaluation", "embedding"]


class LimitExceededError(UsageError):
    """A run refused before any call: the message names the limit, the figures and when it resets."""


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
    has been idle for TICKET_IDLE_S."""

    owner: str
    reserved_usd: Decimal
    done: _Done | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _released: threading.Event = field(default_factory=threading.Event)
    _touched: float = field(default_factory=time.monotonic)

    @property
    def ended(self) -> bool:
        """True once the run has ended (or gave no sign of life for too long)."""
        return (
            self._released.is_set()
            or (self.done is not None and self.done.is_set())
            or time.monotonic() - self._touched > TICKET_IDLE_S
        )

    def touch(self) -> None:
        """Say the run is still going."""
        self._touched = time.monotonic()

    def release(self) -> None:
        """Say the run has ended."""
        self._released.set()


class Gate:
    """Admits runs under the hosted policy; in local mode it admits everything and keeps nothing."""

    def __init__(self, policy: HostedPolicy) -> None:
        self.policy = policy
        self._tickets: dict[str, list[Ticket]] = {}
        self._lock = threading.Lock()

    def check(self, user: User, ask: Ask, store: Store | None) -> None:
        """Raise LimitExceededError if `user` may not start this run now (nothing is reserved)."""
        with self._lock:
            self._refusal(user, ask, store)

    def admit(self, user: User, ask: Ask, store: Store | None, done: _Done | None = None) -> Ticket:
        """Check, then hold the run's place and maximum cost until it ends; raise LimitExceededError."""
        ticket = Ticket(user.id, ask.max_cost_usd, done)
        with self._lock:
            self._refusal(user, ask, store)
            if self.policy.enabled:
                self._tickets.setdefault(user.id, []).append(ticket)
        return ticket

    def going(self, user: User) -> list[Ticket]:
        """The user's runs still going."""
        with self._lock:
            return self._going(user)

    def _going(self, user: User) -> list[Ticket]:
        live = [t for t in self._tickets.get(user.id, []) if not t.ended]
        self._tickets[user.id] = live
        return live

    def _refusal(self, user: User, ask: Ask, store: Store | None) -> None:
        if not self.policy.enabled:
            return
        if user.id == LOCAL_OWNER or store is None:
            raise LimitExceededError("On a shared instance a run needs a signed-in user and the history.")
        limits = self.policy.limits
        _check_count(ask.max_tokens, limits.max_tokens, "max_tokens", "max tokens")
        if ask.what == "evaluation":
            _check_count(ask.concurrency, limits.eval_concurrency, "eval_concurrency", "calls at once")
        if ask.what != "embedding":
            # An embedding's calls are batches of texts: a file's are bounded by the document size limit,
            # a comparison's by the collection, and their money by the budget below.
            kind = "calls_per_run" if ask.what == "comparison" else "eval_calls"
            _check_count(ask.calls, getattr(limits, kind), kind, f"calls in {ask.subject}")
        going = self._going(user)
        if len(going) >= limits.concurrent_runs:
            setting = LIMIT_SETTINGS["concurrent_runs"]
            raise LimitExceededError(
                f"You have {len(going)} runs going; the limit is {limits.concurrent_runs} at once "
                f"({setting.env}). Wait for one to finish or stop it."
            )
        refused = [key for key in ask.unpriced if not limits.allows_unpriced(key)]
        if refused:
            raise LimitExceededError(
                f"No price is known for {', '.join(refused)}, so its cost cannot be checked against your "
                f"budget. An admin can set its price in the models file or allow it ({ALLOW_UNPRICED_ENV})."
            )
        if limits.daily_usd is not None:
            _check_budget(limits.daily_usd, store.spent_since(user.id, day_start()), going, ask)


@cache
def default_gate() -> Gate:
    """The one gate of this process, under the policy its environment sets (HostingConfigError if bad)."""
    return Gate(HostedPolicy.from_env())


def _check_count(asked: int, limit: int, name: str, what: str) -> None:
    if asked > limit:
        raise LimitExceededError(
            f"This run asks for {asked} {what}; the limit is {limit} ({LIMIT_SETTINGS[name].env})."
        )


def _check_budget(cap: Decimal, spent: Decimal, going: Sequence[Ticket], ask: Ask) -> None:
    reserved = sum((t.reserved_usd for t in going), Decimal(0))
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
