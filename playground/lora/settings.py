"""What a local tuning job is asked to do (picklable: it crosses into the worker process)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playground.lora.dataset import TrainingExample
from playground.lora.errors import TuneSettingsError, UnknownBaseModelError

# Base models this machine can fine-tune: model key -> the bundled GGUF's name (providers.local_models).
# Only llama-architecture bases: the adapter writer maps llama's tensor names (gguf_adapter.py).
BASE_MODELS = {"smollm2-135m": "smollm2-135m"}

# Every linear projection of a llama block: the style of the answer is spread over all of them.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TuneSettings:
    """One job: base, name, data, and the few knobs that matter on a CPU (small on purpose)."""

    base: str
    name: str
    examples: tuple[TrainingExample, ...]
    folder: Path  # the tuned model's own folder: log, then adapter and manifest
    steps: int = 60
    rank: int = 8
    alpha: float = 16.0
    learning_rate: float = 2e-3
    batch_size: int = 4
    max_tokens: int = 96  # per example: longer ones are cut (the answer's start is what a style needs)
    threads: int | None = None  # torch threads; None: every core
    seed: int = 0

    def __post_init__(self) -> None:
        if self.base not in BASE_MODELS:
            raise UnknownBaseModelError(
                f"unknown base model {self.base!r}; local fine-tuning supports: {', '.join(BASE_MODELS)}"
            )
        for label, value, low, high in (
            ("steps", self.steps, 1, 10_000),
            ("rank", self.rank, 1, 256),
            ("batch size", self.batch_size, 1, 256),
            ("max tokens", self.max_tokens, 16, 4096),
        ):
            if not low <= value <= high:
                raise TuneSettingsError(f"{label} must be between {low} and {high}, not {value}")
