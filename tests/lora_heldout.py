"""The shipped held-out questions asked of one model through the project's own path (spec → adapter →
local worker), each answer scored by the evaluation's regex metric, the rate with its 95% interval."""

from __future__ import annotations

from dataclasses import dataclass

from playground.core.params import Params, build_request
from playground.core.specs import ModelSpec
from playground.core.stats import mean_ci95
from playground.engine.registry import build_provider
from playground.engine.runner import run_model
from playground.evals.metrics import MetricChoice, score_answer
from playground.lora.samples import sample_heldout_set

# Greedy and short: the style is in the first words.
HELDOUT_PARAMS = Params(temperature=0.0, max_tokens=16, seed=1)


@dataclass(frozen=True)
class StyleRate:
    """How many held-out answers match the taught style (regex metric), with the answers themselves."""

    rate: float
    low: float | None
    high: float | None
    answers: tuple[str, ...]


def style_rate(spec: ModelSpec) -> StyleRate:
    provider = build_provider(spec, {})
    answers, scores = [], []
    for row in sample_heldout_set():
        result = run_model(
            spec, provider, build_request(spec, row.question, None, HELDOUT_PARAMS), timeout_s=120
        )
        assert result.error is None, result.error
        score = score_answer(MetricChoice("regex"), result.text, row.expected)
        answers.append(result.text)
        scores.append(score.value)
    rate, low, high = mean_ci95(scores)
    return StyleRate(rate, low, high, tuple(answers))
