"""The messages a tuning worker sends its caller (dataclasses: they cross the process boundary)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TuneProgress:
    """One finished training step. Time left = mean of the last steps' measured times × steps to go."""

    step: int
    steps: int
    loss: float | None  # None: not a finite number
    elapsed_s: float
    left_s: float
    step_s: float


@dataclass(frozen=True)
class TuneEnded:
    """How the job ended: finished (the adapter is written), stopped, or failed (message says why)."""

    state: str  # "finished" | "stopped" | "failed"
    steps_done: int
    message: str
    adapter_path: str | None = None
    base_path: str | None = None
