"""Sampling parameters and the request each model gets from one prompt (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playground.core.specs import ModelSpec
from providers.base import ChatRequest, Message

DEFAULT_MAX_TOKENS = ChatRequest.DEFAULT_MAX_TOKENS  # the one default answer length, kept on the request
PARAM_NAMES = ("temperature", "top_p", "max_tokens", "seed", "stop")


@dataclass(frozen=True)
class Params:
    """Sampling parameters shared by a run; None means the model's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def merged(self, overrides: Mapping[str, Any]) -> Params:
        """These params with per-model overrides applied (unknown names ignored)."""
        values = {name: getattr(self, name) for name in PARAM_NAMES}
        for name, value in overrides.items():
            if name in values and value is not None:
                values[name] = tuple(value) if name == "stop" else value
        return Params(**values)

    def describe(self) -> str:
        """The parameters as a person reads them: "temperature 0.7 · top p 0.9 · max tokens 128 · seed 7"
        (a parameter left to the model's default is left out)."""
        parts = []
        if self.temperature is not None:
            parts.append(f"temperature {self.temperature:g}")
        if self.top_p is not None:
            parts.append(f"top p {self.top_p:g}")
        parts.append(f"max tokens {self.max_tokens}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.stop:
            parts.append("stop " + ", ".join(repr(s) for s in self.stop))
        return " · ".join(parts)


# Per-model override columns and the range each accepts (the same bounds as the shared controls).
OVERRIDE_LIMITS: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "max_tokens": (1, 32768),
    "seed": (0, 2**31 - 1),
}


def overrides_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-model overrides from table rows ({"model": key, "temperature": 0.2, ...}); blank cells mean
    "use the shared value". Raises ValueError naming the model and parameter for a value out of range."""
    overrides: dict[str, dict[str, Any]] = {}
    for row in rows:
        values = {}
        for name, (low, high) in OVERRIDE_LIMITS.items():
            value = row.get(name)
            if value is None or value != value:  # blank, or NaN from a table cell
                continue
            if not low <= value <= high:
                raise ValueError(f"{row['model']}: {name} {value:g} is outside {low:g}..{high:g}")
            values[name] = int(value) if name in ("max_tokens", "seed") else float(value)
        if values:
            overrides[str(row["model"])] = values
    return overrides


def build_request(
    spec: ModelSpec,
    prompt: str,
    system: str | None,
    params: Params,
    examples: Sequence[tuple[str, str]] = (),
) -> ChatRequest:
    """A chat request, or plain text for completion (base) models: the system text, then the prompt.

    `examples` are (prompt, answer) pairs shown before the prompt (few-shot prompting): for a chat model
    as earlier turns, a user message answered by the assistant; for a base model as text it continues,
    each example's prompt followed by its answer, separated by blank lines."""
    effective = Params().merged(spec.params).merged(_explicit(params))
    common = {
        "temperature": effective.temperature,
        "top_p": effective.top_p,
        "max_tokens": effective.max_tokens,
        "seed": effective.seed,
        "stop": effective.stop,
    }
    if spec.is_completion:
        parts = [system.strip()] if system and system.strip() else []
        parts += [_answered(shown, answer) for shown, answer in examples]
        return ChatRequest(raw_text="\n\n".join([*parts, prompt]), **common)
    messages = []
    if system and system.strip():
        messages.append(Message("system", system.strip()))
    for shown, answer in examples:
        messages += [Message("user", shown), Message("assistant", answer)]
    messages.append(Message("user", prompt))
    return ChatRequest(messages=tuple(messages), **common)


def _answered(prompt: str, answer: str) -> str:
    """An example for a base model: its prompt, then its answer as the text that follows it."""
    return prompt + ("" if prompt.endswith((" ", "\n")) else " ") + answer


def _explicit(params: Params) -> dict[str, Any]:
    defaults = Params()
    return {n: getattr(params, n) for n in PARAM_NAMES if getattr(params, n) != getattr(defaults, n)}
