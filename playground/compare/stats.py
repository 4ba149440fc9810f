"""Spread of repeated runs: min, p50, p90 and max of TTFT, total time and decode speed."""

from __future__ import annotations

from collections.abc import Iterable

from playground.core.results import RunResult
from playground.core.stats import Spread, spread

SPREAD_FIELDS = ("ttft_s", "total_s", "output_tokens_per_s")


def spread_by_model(results: Iterable[RunResult]) -> dict[str, dict[str, Spread | None]]:
    """Per model, per metric spread over the successful runs."""
    by_model: dict[str, list[RunResult]] = {}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    return {
        model: {
            metric: spread(getattr(r, metric) for r in runs if r.ok and getattr(r, metric) is not None)
            for metric in SPREAD_FIELDS
        }
        for model, runs in by_model.items()
    }


def spread_rows(results: Iterable[RunResult]) -> list[dict[str, object]]:
    """One table row per model and metric (its human label, with its unit): n, min, median (p50), p90 and max,
    for repeated runs."""
    rows: list[dict[str, object]] = []
    for model, metrics in spread_by_model(results).items():
        for metric, found in metrics.items():
            values = (found.min, found.p50, found.p90, found.max) if found else (None,) * 4
            rows.append(
                {
                    "model": model,
                    "metric": str(RunResult.label(metric)),
                    "n": found.n if found else 0,
                    **{
                        name: None if value is None else round(value, 3)
                        for name, value in zip(("min", "p50", "p90", "max"), values, strict=True)
                    },
                }
            )
    return rows
