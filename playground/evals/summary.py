"""Per-model results of an evaluation: mean score per metric with a 95% confidence interval, pass rate,
errors, latency and spend; plus a one-line reading of which model is ahead and by how much."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from playground.core.stats import mean_ci95, spread
from playground.storage.evals import Arm, Cell


@dataclass(frozen=True)
class MetricSummary:
    """One metric over one model's rows."""

    metric: str
    n: int  # rows scored
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    pass_rate: float | None
    errors: int  # rows the metric could not score (e.g. unparseable judge output)


@dataclass(frozen=True)
class ModelSummary:
    """One model over the whole dataset."""

    model: str  # the arm's label: the model key, or "key · 3-shot"
    rows: int
    errors: int  # calls that failed
    metrics: dict[str, MetricSummary]
    latency_p50_s: float | None
    latency_p90_s: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None  # answers, known prices only; None when nothing was priced
    judge_cost_usd: Decimal | None
    cost_sources: tuple[str, ...]
    shots: int = 0  # examples shown before each row's prompt
    model_key: str = ""  # the model, whatever the arm's label

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (money as strings)."""
        return {
            "model": self.model,
            "rows": self.rows,
            "errors": self.errors,
            "metrics": {name: vars(m) for name, m in self.metrics.items()},
            "latency_p50_s": self.latency_p50_s,
            "latency_p90_s": self.latency_p90_s,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "judge_cost_usd": None if self.judge_cost_usd is None else str(self.judge_cost_usd),
            "cost_sources": list(self.cost_sources),
            "model_key": self.model_key or self.model,
            "shots": self.shots,
        }


def _sum_money(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def summarize(cells: Sequence[Cell], arms: Sequence[Arm | str], metrics: Sequence[str]) -> list[ModelSummary]:
    """One summary per arm (a model key alone is that model without examples), in the given order."""
    summaries = []
    for given in arms:
        arm = given if isinstance(given, Arm) else Arm(given, 0, given)
        mine = [c for c in cells if arm.holds(c)]
        per_metric = {}
        for metric in metrics:
            scores = [c.scores[metric] for c in mine if metric in c.scores]
            values = [s.value for s in scores if s.error is None and s.value is not None]
            passes = [s.passed for s in scores if s.error is None and s.passed is not None]
            mean, low, high = mean_ci95(values)
            per_metric[metric] = MetricSummary(
                metric,
                len(values),
                mean,
                low,
                high,
                sum(passes) / len(passes) if passes else None,
                sum(1 for s in scores if s.error is not None),
            )
        latency = spread([c.result.total_s for c in mine if c.result.ok and c.result.total_s is not None])
        summaries.append(
            ModelSummary(
                model=arm.label,
                rows=len(mine),
                errors=sum(1 for c in mine if not c.result.ok),
                metrics=per_metric,
                latency_p50_s=latency.p50 if latency else None,
                latency_p90_s=latency.p90 if latency else None,
                input_tokens=sum(c.result.input_tokens or 0 for c in mine),
                output_tokens=sum(c.result.output_tokens or 0 for c in mine),
                cost_usd=_sum_money([c.result.cost_usd for c in mine]),
                judge_cost_usd=_sum_money([c.judge.cost_usd for c in mine if c.judge]),
                cost_sources=tuple(sorted({c.result.cost_source for c in mine})),
                shots=arm.shots,
                model_key=arm.model,
            )
        )
    return summaries


def reading(summaries: Sequence[ModelSummary], metric: str) -> str:
    """Which model leads on a metric, by how much, and whether the 95% intervals overlap."""
    scored = [s for s in summaries if s.metrics.get(metric) and s.metrics[metric].mean is not None]
    if len(scored) < 2:
        return f"{metric}: not enough scored models to compare"
    ranked = sorted(scored, key=lambda s: s.metrics[metric].mean or 0.0, reverse=True)
    first, second = ranked[0], ranked[1]
    a, b = first.metrics[metric], second.metrics[metric]
    gap = (a.mean or 0.0) - (b.mean or 0.0)
    if gap == 0:
        return f"{metric}: {first.model} and {second.model} tie at {a.mean:.2f}"
    separated = a.ci_low is not None and b.ci_high is not None and a.ci_low > b.ci_high
    certainty = (
        "the 95% intervals do not overlap"
        if separated
        else "the 95% intervals overlap, so more rows are needed to be sure"
    )
    return f"{metric}: {first.model} leads {second.model} by {gap:.2f} ({a.mean:.2f} vs {b.mean:.2f}); {certainty}"
