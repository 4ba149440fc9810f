"""Who pays for an image comparison: one admission by the Gate for its hosted calls, and every call that
reached a model in the usage ledger (kind "image"), on the same `hosting.Bill` as speech and embeddings."""

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

IMAGE_CALL = "image"  # the usage ledger's kind for an image call (describe or paint)


@dataclass(frozen=True)
class Priced:
    """One model's call as admitted: its spec and the most it may cost (None: no known price)."""

    spec: ModelSpec
    max_cost_usd: Decimal | None


@dataclass(frozen=True)
class ImagePayer:
    """Who pays for image calls: `user`, in `store`'s usage ledger (kind "image", `ref_id`: the
    comparison's id); hosted calls are first admitted by `gate` (default: the process's one)."""

    user: User = LOCAL_USER
    store: Store | None = None
    gate: Gate | None = None
    ref_id: str = field(default_factory=lambda: f"image-{uuid.uuid4().hex[:12]}")

    def admit(self, calls: Sequence[Priced], max_tokens: int, detail: str) -> Bill:
        """A bill for these calls: the hosted ones' maximum cost checked against the user's limits and
        held until the bill is closed (LimitExceededError, naming the limit, before anything is sent)."""
        gate = self.gate or default_gate()
        hosted = [call for call in calls if not call.spec.is_local]
        ask = None
        if hosted and gate.policy.enabled:
            known = [call.max_cost_usd for call in hosted if call.max_cost_usd is not None]
            ask = Ask(
                what="image",
                calls=len(hosted),
                max_tokens=max_tokens,
                max_cost_usd=sum(known, Decimal(0)),
                unpriced=tuple(call.spec.key for call in hosted if call.max_cost_usd is None),
                concurrency=len(hosted),
                detail=detail,
            )
        return Bill.open(gate, ask, IMAGE_CALL, self.user, self.store, self.ref_id)
