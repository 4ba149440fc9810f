"""A conversation: a run and the follow-ups that continue it, each model with its own earlier answers.

A follow-up sends every model the earlier prompts and that model's own answers to them, then the new
prompt. What each model was sent is never stored twice: it is read back along the chain of runs
(`runs.parent_id`), here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from playground.core.results import RunResult

if TYPE_CHECKING:
    from playground.storage.runs import StoredRun


@dataclass(frozen=True)
class ModelTotals:
    """One model's figures summed over a conversation's turns."""

    model: str
    turns: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None  # None: not every turn had a price (see cost_source)
    cost_source: str  # the turns' price source when they share one, "local", or "partly unknown"

    def line(self) -> str:
        """ "3 turns · 412 in / 96 out tokens · 0.000211 USD (genai-prices:…)" """
        cost = (
            "local (no price)"
            if self.cost_source == "local"
            else f"{self.cost_usd} USD ({self.cost_source})"
            if self.cost_usd is not None
            else f"cost {self.cost_source}"
        )
        return (
            f"{self.turns} turn{'s' if self.turns != 1 else ''} · {self.input_tokens:,} in / "
            f"{self.output_tokens:,} out tokens · {cost}"
        )


def usable_answer(result: RunResult | None) -> bool:
    """Whether a model's answer can stand as its turn in the conversation: answered, or stopped by the
    user after writing something (the text it showed is what the conversation continues from)."""
    if result is None:
        return False
    return result.ok or (result.error is not None and result.error.kind == "cancelled" and bool(result.text))


@dataclass(frozen=True)
class Conversation:
    """The turns of one conversation, first first; the last is the run a follow-up continues."""

    turns: Sequence[StoredRun]

    @property
    def last(self) -> StoredRun:
        return self.turns[-1]

    @property
    def system(self) -> str | None:
        """The system prompt, set by the first turn for the whole conversation."""
        return self.turns[0].system

    def answer(self, run: StoredRun, model: str) -> RunResult | None:
        """`model`'s answer (first repeat) in turn `run`."""
        return next((r for r in run.results if r.model == model and r.repeat_index == 0), None)

    def history_of(self, model: str, before: str | None = None) -> list[tuple[str, str]]:
        """(prompt, answer) of every turn `model` answered, up to the turn with id `before` (excluded;
        None: every turn): the earlier turns it is sent."""
        pairs = []
        for run in self.turns:
            if run.id == before:
                break
            result = self.answer(run, model)
            if usable_answer(result):
                pairs.append((run.prompt, result.text))  # type: ignore[union-attr]
        return pairs

    @property
    def ended(self) -> bool:
        """Every model of the last turn has ended (its answer is saved; the run's own end mark may still
        be on its way to a slow database)."""
        if self.last.state == "finished":
            return True
        answers = [self.answer(self.last, model) for model in self.last.models]
        return all(a is not None and not (a.error and a.error.kind == "running") for a in answers)

    def continuing(self, known: Collection[str]) -> tuple[list[str], dict[str, str]]:
        """The models a follow-up goes to (those of the last turn with an answer, among the `known`
        models), and why each other one is left out."""
        going, left_out = [], {}
        for model in self.last.models:
            result = self.answer(self.last, model)
            if model not in known:
                left_out[model] = "it is not among this app's models any more"
            elif usable_answer(result):
                going.append(model)
            else:
                why = result.error.message if result is not None and result.error else "no answer saved"
                left_out[model] = f"its last answer failed ({why})"
        return going, left_out

    def totals(self) -> list[ModelTotals]:
        """Each model's tokens and cost summed over the turns it answered (first repeats)."""
        return [
            self._totals_of(model) for model in dict.fromkeys(m for run in self.turns for m in run.models)
        ]

    def _totals_of(self, model: str) -> ModelTotals:
        answers = [a for a in (self.answer(run, model) for run in self.turns) if a is not None]
        sources = {a.cost_source for a in answers}
        costs = [a.cost_usd for a in answers]
        priced = answers and all(c is not None for c in costs)
        return ModelTotals(
            model,
            len(answers),
            sum(a.input_tokens or 0 for a in answers),
            sum(a.output_tokens or 0 for a in answers),
            sum(costs, Decimal(0)) if priced else None,  # type: ignore[arg-type]
            sources.pop() if len(sources) == 1 else "partly unknown",
        )
