"""Who pays for a speech comparison: one admission by the Gate for its hosted calls, and every call that
reached a model in the usage ledger (kind "speech"), on the same `hosting.Bill` as embeddings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from playground.core.policy import LOCAL_USER, User
from playground.core.specs import ModelSpec
from playground.hosting.billing import Bill
from playground.hosting.gate import Ask, Gate, default_gate
from playground.storage.runs import Store

SPEECH_CALL = "speech"  # the usage ledger's kind for a speech call


@dataclass(frozen=True)
class Priced:
    """One model's call as admitted: its spec and the most it may cost (None: no known price)."""

    spec: ModelSpec
    max_cost_usd: Decimal | None


@dataclass(frozen=True)
class SpeechPayer:
    """Who pays for speech calls: `user`, in `store`'s usage ledger (kind "speech", `ref_id`: the
    comparison's id); hosted calls are first admitted by `gate` (default: the process's one)."""

    user: User = LOCAL_USER
    store: Store | None = None
    gate: Gate | None = None
    ref_id: str = field(default_factory=lambda: f"speech-{uuid.uuid4().hex[:12]}")

    def admit(self, calls: Sequence[Priced], detail: str) -> Bill:
        """A bill for these calls. The hosted ones' maximum cost is checked against the user's limits and
        held until the bill is closed: LimitExceededError, naming the limit, before anything is sent.
        Local models cost nothing and need no admission."""
        gate = self.gate or default_gate()
        hosted = [call for call in calls if not call.spec.is_local]
        ask = _ask(hosted, detail) if hosted and gate.policy.enabled else None
        return Bill.open(gate, ask, SPEECH_CALL, self.user, self.store, self.ref_id)


def _ask(hosted: Sequence[Priced], detail: str) -> Ask:
    """What the hosted calls of one speech comparison ask of the user's limits."""
    known = [call.max_cost_usd for call in hosted if call.max_cost_usd is not None]
    return Ask(
        what="speech",
        calls=len(hosted),
        max_tokens=0,
        max_cost_usd=sum(known, Decimal(0)),
        unpriced=tuple(call.spec.key for call in hosted if call.max_cost_usd is None),
        concurrency=len(hosted),
        detail=detail,
    )
