"""One turn of a blind battle running: both models answer at once, seen only as sides A and B.

Each model keeps its own conversation: a follow-up turn sends it every earlier prompt with its own earlier
answers, then the new prompt (as `core.build_request` sends few-shot examples: earlier turns for a chat
model, text before the prompt for a base model). Every finished answer is saved in its turn and put in the
usage ledger before the page hears of it.

Nothing a participant sees before the vote may tell the models apart beyond their answers: refusals name
no model, window, token count or counting method, a failure gives only its kind, and the live events say
nothing of queues or cooldowns (only a local model queues; only a hosted one is rate-limited).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from playground.core.errors import UsageError
from playground.core.params import Params, build_request
from playground.core.policy import User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec
from playground.engine.fanout import Delta, Done, FanOut, Job
from playground.engine.preflight import Estimate, PreflightError, check_fits, estimate
from playground.engine.registry import Keys, build_provider
from playground.hosting.gate import Ask, Ticket
from playground.storage.arena import ArenaStore, Side, Turn
from providers.errors import ContextOverflowError, ProviderError


@dataclass(frozen=True)
class SideText:
    """Text that just arrived for one side."""

    side: Side
    text: str


@dataclass(frozen=True)
class SideDone:
    """One side has finished: `failed` is its error's kind (the message may name the model), else None."""

    side: Side
    text: str
    failed: str | None


SideEvent = SideText | SideDone

# What a turn that no longer fits a context window says: which side, which window or how many tokens would
# tell a model apart (a window size, a tokenizer's name), so it says none of them.
TOO_LONG = "This conversation is too long for one of the two models: start a new battle."


@dataclass(frozen=True)
class SideCall:
    """What one side sends in this turn: its model, adapter and request, and the estimate made first."""

    side: Side
    spec: ModelSpec
    job: Job
    estimate: Estimate


def side_calls(
    specs: Mapping[str, ModelSpec],
    models: tuple[str, str],
    history: Sequence[Turn],
    prompt: str,
    max_tokens: int,
    keys: Keys | None,
) -> list[SideCall]:
    """Both sides' calls for a turn (each with its own conversation so far); UsageError, blind, when a
    model cannot be called or the conversation no longer fits a context window (TOO_LONG)."""
    calls = []
    for side, key in zip(("a", "b"), models, strict=True):
        spec = specs.get(key)
        if spec is None:
            raise UsageError(f"Model {side.upper()} of this battle is no longer configured on this server.")
        earlier = [(t.prompt, (t.side(side) or RunResult(key)).text) for t in history]
        request = build_request(spec, prompt, None, Params(max_tokens=max_tokens), examples=earlier)
        try:
            provider = build_provider(spec, keys)
            guess = estimate(spec, provider, request)
        except ContextOverflowError as exc:  # a local model refuses a prompt far past its window
            raise UsageError(TOO_LONG) from exc
        except ProviderError as exc:
            raise UsageError(f"Model {side.upper()} cannot be called now ({exc.kind}).") from exc
        job = Job(spec, provider, request, timeout_s=spec.timeout_s)
        calls.append(SideCall(side, spec, job, guess))  # type: ignore[arg-type] - side is "a" or "b"
    try:
        check_fits([c.estimate for c in calls])
    except PreflightError as exc:
        raise UsageError(TOO_LONG) from exc
    return calls


def battle_ask(calls: Sequence[SideCall]) -> Ask:
    """What one turn asks of the participant's limits (hosted mode): two calls, their maximum cost."""
    known = [c.estimate.max_cost_usd for c in calls if c.estimate.max_cost_usd is not None]
    unpriced = [c.spec.key for c in calls if c.estimate.max_cost_usd is None and not c.spec.is_local]
    return Ask(
        what="comparison",
        calls=len(calls),
        max_tokens=max(c.job.request.max_tokens or 0 for c in calls),
        max_cost_usd=sum(known, Decimal(0)),
        unpriced=unpriced,
    )


class BattleTurn:
    """A turn admitted and reserved in the store: iterate `events()`; `cancel()` stops both models.

    Each finished answer is saved in the turn (and in the usage ledger as `user`'s) before its SideDone;
    the answers go on and are saved even if nobody reads the events any more (the page was left)."""

    def __init__(
        self,
        store: ArenaStore,
        battle_id: str,
        turn_index: int,
        calls: Sequence[SideCall],
        user: User,
        ticket: Ticket,
        finished: threading.Event,
    ) -> None:
        self.battle_id = battle_id
        self.turn_index = turn_index
        self._store = store
        self._user = user
        self._ticket = ticket
        self._sides = {c.spec.key: c.side for c in calls}
        self._fanout = FanOut(
            [c.job for c in calls], on_result=self._save, finished=finished, on_finished=ticket.release
        )

    def _save(self, result: RunResult) -> None:
        self._ticket.touch()
        self._store.store.record_call(
            self._user.id, "arena", self.battle_id, result, self._ticket.admission_id
        )
        self._store.finish_answer(self.battle_id, self.turn_index, self._sides[result.model], result)

    def cancel(self) -> None:
        """Stop both models; what they said so far is saved, marked cancelled (the battle is then not
        votable)."""
        self._fanout.cancel()

    def events(self, every_s: float = 0.0) -> Iterator[SideEvent]:
        """Start both models and yield live events by side, never by model, until both have ended. A
        call's place in a queue or a server's cooldown is not passed on: it would tell a local model
        (queued) from a hosted one (rate-limited)."""
        for event in self._fanout.events(every_s):
            side = self._sides[event.model]
            if isinstance(event, Delta):
                yield SideText(side, event.text)
            elif isinstance(event, Done):
                error = event.result.error
                yield SideDone(side, event.result.text, error.kind if error else None)
