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
from typing import TYPE_CHECKING, Protocol

from playground.core.errors import UsageError
from playground.core.hosting import DAILY_USD_ENV, LIMIT_SETTINGS, HostedPolicy, User, day_start, next_reset

if TYPE_CHECKING:
    from playground.storage.runs import Store

# A ticket whose run never said it ended (a page closed mid-run, say) stops counting after this long.
TICKET_EXPIRY_S = 3600.0


class LimitExceededError(UsageError):
    """A run refused before any call: the message names the limit, the figures and when it resets."""


class _Done(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Ask:
    """What a run asks for, computed before it starts."""

    what: str  # "comparison" | "evaluation"
    calls: int  # upstream calls at most (repeat × models, rows × models, judge calls included)
    max_tokens: int  # the largest max-tokens of any call
    max_cost_usd: Decimal  # the pre-run maximum cost of the models with a known price
    unpriced: Sequence[str] = ()  # hosted models with no known price
    concurrency: int = 1  # calls at once


@dataclass
class Ticket:
    """An admitted run; it counts against its user until `done` is set (or it expires)."""

    owner: str
    reserved_usd: Decimal
    done: _Done = field(default_factory=threading.Event)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.monotonic)

    @property
    def ended(self) -> bool:
        """True once the run has ended (or its ticket expired)."""
        return self.done.is_set() or time.monotonic() - self.started > TICKET_EXPIRY_S

    def release(self) -> None:
        """Say the run has ended (a no-op when `done` belongs to the run)."""
        if isinstance(self.done, threading.Event):
            self.done.set()


class Gate:
    """Admits runs under the hosted policy; in local mode it admits everything."""

    def __init__(self, policy: HostedPolicy) -> None:
        self.policy = policy
        self._tickets: dict[str, list[Ticket]] = {}
        self._lock = threading.Lock()

    def check(self, user: User, ask: Ask, store: Store) -> None:
        """Raise LimitExceededError if `user` may not start this run now (nothing is reserved)."""
        with self._lock:
            self._refusal(user, ask, store)

    def admit(self, user: User, ask: Ask, store: Store, done: _Done | None = None) -> Ticket:
        """Check, then reserve the run's maximum cost until `done` is set; raise LimitExceededError."""
        with self._lock:
            self._refusal(user, ask, store)
            ticket = Ticket(user.id, ask.max_cost_usd, *([done] if done is not None else []))
            self._tickets.setdefault(user.id, []).append(ticket)
            return ticket

    def going(self, user: User) -> list[Ticket]:
        """The user's runs still going."""
        live = [t for t in self._tickets.get(user.id, []) if not t.ended]
        self._tickets[user.id] = live
        return live

    def _refusal(self, user: User, ask: Ask, store: Store) -> None:
        if not self.policy.enabled:
            return
        limits = self.policy.limits
        _check_count(ask.max_tokens, limits.max_tokens, "max_tokens", "max tokens")
        _check_count(ask.concurrency, limits.eval_concurrency, "eval_concurrency", "concurrency")
        kind = "calls_per_run" if ask.what == "comparison" else "eval_calls"
        _check_count(ask.calls, getattr(limits, kind), kind, f"calls in this {ask.what}")
        going = self.going(user)
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
                "budget. An admin can set its price in the models file or allow it (PLAYGROUND_ALLOW_UNPRICED)."
            )
        if limits.daily_usd is not None:
            _check_budget(limits.daily_usd, store.spent_since(user.id, day_start()), going, ask)


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
    parts.append(f"this {ask.what} may cost up to {_usd(ask.max_cost_usd)} USD")
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
