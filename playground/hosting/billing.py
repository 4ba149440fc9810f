"""Bills: calls outside a comparison or an evaluation (embedding batches, speech calls), admitted by the
Gate as one run and each charged to its user in the usage ledger as it ends."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from playground.core.policy import LOCAL_USER, User
from playground.core.results import RunResult
from playground.hosting.gate import Ask, Gate, Ticket

if TYPE_CHECKING:
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
