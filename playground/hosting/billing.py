"""Bills: calls outside a comparison or an evaluation (embedding batches, speech calls), admitted by the
Gate as one run and each charged to its user in the usage ledger as it ends."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from playground.core.policy import LOCAL_USER, User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec
from playground.hosting.gate import Ask, Gate, Ticket, What, default_gate

if TYPE_CHECKING:
    from playground.storage.media import KeptRun
    from playground.storage.runs import Store


@dataclass
class Bill:
    """Calls charged to `user` in `store`'s usage ledger as `kind` for `ref_id` (a collection, an
    evaluation, a speech comparison), under `ticket`'s admission (None: a local model or a local app,
    nothing held). Closing it (leaving its `with`) frees what the admission held."""

    kind: str
    user: User = LOCAL_USER
    store: Store | None = None
    ref_id: str = ""
    ticket: Ticket | None = None

    @classmethod
    def open(
        cls, gate: Gate, ask: Ask | None, kind: str, user: User, store: Store | None, ref_id: str
    ) -> Bill:
        """A bill for `ask`, admitted by `gate` under `user`'s limits (LimitExceededError before anything
        is sent); `ask` None (local models only) or a local app: nothing to check or hold."""
        ticket = gate.admit(user, ask, store) if ask is not None and gate.policy.enabled else None
        return cls(kind, user, store, ref_id, ticket)

    def charge(self, call: RunResult) -> None:
        """Put one call in the usage ledger as the user's (a failed one too: it may have been billed)."""
        admission = None
        if self.ticket is not None:
            self.ticket.touch()
            admission = self.ticket.admission_id
        if self.store is not None:
            self.store.record_call(self.user.id, self.kind, self.ref_id, call, admission)

    def close(self) -> None:
        """The calls have ended: the reservation is freed through the store's writer, after their ledger
        rows, so the next admission sees one or the other."""
        if self.ticket is not None:
            self.ticket.release()

    def __enter__(self) -> Bill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Priced:
    """One model's call as admitted: its spec and the most it may cost (None: no known price)."""

    spec: ModelSpec
    max_cost_usd: Decimal | None


@dataclass(frozen=True)
class CallPayer:
    """Who pays for a comparison of single calls (speech, images): `user`, in `store`'s usage ledger as
    `kind` for `ref_id`; the hosted calls are first admitted by `gate` (default: the process's one) as
    one run. Each kind of call has its subclass, which sets `kind`."""

    user: User = LOCAL_USER
    store: Store | None = None
    gate: Gate | None = None
    ref_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    kind: What = "comparison"

    def admit(
        self, calls: Sequence[Priced], detail: str, max_tokens: int = 0, ref_id: str | None = None
    ) -> Bill:
        """A bill for these calls, charged for `ref_id` (default: the payer's; a kept run's id). The hosted
        ones' maximum cost is checked against the user's limits and held until the bill is closed:
        LimitExceededError, naming the limit, before anything is sent. Local models cost nothing and need
        no admission."""
        gate = self.gate or default_gate()
        hosted = [call for call in calls if not call.spec.is_local]
        ask = None
        if hosted and gate.policy.enabled:
            known = [call.max_cost_usd for call in hosted if call.max_cost_usd is not None]
            ask = Ask(
                what=self.kind,
                calls=len(hosted),
                max_tokens=max_tokens,
                max_cost_usd=sum(known, Decimal(0)),
                unpriced=tuple(call.spec.key for call in hosted if call.max_cost_usd is None),
                concurrency=len(hosted),
                detail=detail,
            )
        return Bill.open(gate, ask, self.kind, self.user, self.store, ref_id or self.ref_id)

    def keep(self, task: str, prompt: str, models: Sequence[str], params: dict[str, Any]) -> KeptRun:
        """One comparison kept in History as the user's run of kind `task`, under a new id (admit its calls
        with `ref_id=` that id, so its ledger rows name the run); nothing is kept without a store."""
        from playground.storage.media import KeptRun

        return KeptRun(self.store, uuid.uuid4().hex, task, prompt, list(models), params, self.user.id)
