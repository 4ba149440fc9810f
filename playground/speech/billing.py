"""Who pays for a speech comparison: one admission by the Gate for its hosted calls, and every call that
reached a model in the usage ledger (kind "speech"), as `rag.embedding`'s Payer and Bill do for embeddings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType

from playground.core.policy import LOCAL_USER, User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec
from playground.hosting.gate import Ask, Gate, Ticket, default_gate
from playground.storage.runs import SAVE_WAIT_S, Store

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

    def admit(self, calls: Sequence[Priced], detail: str) -> SpeechBill:
        """A bill for these calls. The hosted ones' maximum cost is checked against the user's limits and
        held until the bill is closed: LimitExceededError, naming the limit, before anything is sent.
        Local models cost nothing and need no admission."""
        gate = self.gate or default_gate()
        hosted = [call for call in calls if not call.spec.is_local]
        if not hosted or not gate.policy.enabled:
            return SpeechBill(self, None)
        known = [call.max_cost_usd for call in hosted if call.max_cost_usd is not None]
        ask = Ask(
            what="speech",
            calls=len(hosted),
            max_tokens=0,
            max_cost_usd=sum(known, Decimal(0)),
            unpriced=tuple(call.spec.key for call in hosted if call.max_cost_usd is None),
            concurrency=len(hosted),
            detail=detail,
        )
        return SpeechBill(self, gate.admit(self.user, ask, self.store))


@dataclass
class SpeechBill:
    """An admitted speech comparison: each call is charged as it ends; closing it frees what it held."""

    payer: SpeechPayer
    ticket: Ticket | None

    def charge(self, call: RunResult) -> None:
        """Put one call in the usage ledger as the payer's (a failed one too: it may have been billed)."""
        admission = None
        if self.ticket is not None:
            self.ticket.touch()
            admission = self.ticket.admission_id
        if self.payer.store is not None:
            self.payer.store.record_call(self.payer.user.id, SPEECH_CALL, self.payer.ref_id, call, admission)

    def close(self) -> None:
        """The comparison has ended: its calls are in the ledger before its reservation is freed."""
        if self.payer.store is not None:
            self.payer.store.writer.flush(SAVE_WAIT_S)
        if self.ticket is not None:
            self.ticket.release()

    def __enter__(self) -> SpeechBill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
