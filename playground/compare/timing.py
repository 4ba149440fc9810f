"""How long a call will take, from the speed this installation measured of the same model before.

A local model's time grows with the prompt (prompt processing) and the answer (decoding), both at speeds
that depend on this machine. Compare shows the expected time before sending, and warns when it would
pass the call's deadline.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from playground.core.results import RunResult
from playground.engine.preflight import Estimate

# Fewer earlier answers than this say too little about a model's speed.
MIN_SAMPLES = 3


@dataclass(frozen=True)
class MeasuredSpeed:
    """A model's median speeds over its earlier answers here."""

    model: str
    samples: int
    prefill_tokens_per_s: float  # prompt tokens / time to first token
    decode_tokens_per_s: float

    @classmethod
    def from_answers(cls, model: str, answers: Sequence[RunResult]) -> MeasuredSpeed | None:
        """The medians over `answers` (ended, with timings and token counts), or None with too few."""
        usable = [
            a
            for a in answers
            if a.ttft_s and a.input_tokens and a.output_tokens_per_s and a.output_tokens_per_s > 0
        ]
        if len(usable) < MIN_SAMPLES:
            return None
        return cls(
            model,
            len(usable),
            statistics.median(a.input_tokens / a.ttft_s for a in usable),  # type: ignore[operator]
            statistics.median(a.output_tokens_per_s for a in usable),  # type: ignore[misc]
        )

    def expected_s(self, estimate: Estimate) -> float:
        """The longest this call should take: its prompt, then every token it may write."""
        return (
            estimate.input_tokens / self.prefill_tokens_per_s
            + estimate.max_output_tokens / self.decode_tokens_per_s
        )

    def source(self) -> str:
        """Where the figure comes from, as a caption says it."""
        return (
            f"median of {self.samples} earlier answers here: prompt {self.prefill_tokens_per_s:,.0f} tokens/s, "
            f"writing {self.decode_tokens_per_s:,.0f} tokens/s"
        )


@dataclass(frozen=True)
class ExpectedTime:
    """One model's expected time for the planned call, against its deadline."""

    model: str
    seconds: float | None  # None: not measured here yet
    deadline_s: float
    source: str

    @property
    def too_slow(self) -> bool:
        """The call would likely pass its deadline."""
        return self.seconds is not None and self.seconds > self.deadline_s

    def text(self) -> str:
        """ "up to 12 s" or "not measured yet"."""
        return "not measured here yet" if self.seconds is None else f"up to {self.seconds:,.0f} s"


def expected_time(estimate: Estimate, speed: MeasuredSpeed | None, deadline_s: float) -> ExpectedTime:
    """The expected time of a planned call from the model's measured speed (None: not measured yet)."""
    if speed is None:
        return ExpectedTime(
            estimate.model, None, deadline_s, f"fewer than {MIN_SAMPLES} earlier answers of it here"
        )
    return ExpectedTime(estimate.model, speed.expected_s(estimate), deadline_s, speed.source())
