"""Plotly figures for an evaluation: score vs cost, score per metric, latency per model."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.core.safe_text import chart_text
from playground.evals.summary import ModelSummary
from playground.storage.evals import Cell


def score_cost_figure(summaries: Sequence[ModelSummary], metric: str) -> go.Figure:
    """Mean score (with its 95% interval) against total cost; local or unpriced models sit at $0, named."""
    shown = [s for s in summaries if s.metrics.get(metric) and s.metrics[metric].mean is not None]
    means = [s.metrics[metric].mean or 0.0 for s in shown]
    figure = go.Figure(
        go.Scatter(
            x=[float((s.cost_usd or 0) + (s.judge_cost_usd or 0)) for s in shown],
            y=means,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(s.metrics[metric].ci_high or m) - m for s, m in zip(shown, means, strict=True)],
                "arrayminus": [
                    m - (s.metrics[metric].ci_low or m) for s, m in zip(shown, means, strict=True)
                ],
            },
            mode="markers+text",
            text=[chart_text(s.model) for s in shown],  # model keys may come from users
            textposition="top center",
        )
    )
    free = [s.model for s in shown if s.cost_usd is None]
    title = f"{metric}: mean score (95% interval) vs total cost"
    if free:
        title += "<br><sub>no cost counted (local or no price): " + chart_text(", ".join(free)) + "</sub>"
    figure.update_layout(
        title=title, xaxis_title="USD (answers + judge)", yaxis={"title": "score", "range": [0, 1.05]}
    )
    return figure


def metric_bars_figure(summaries: Sequence[ModelSummary], metrics: Sequence[str]) -> go.Figure:
    """Grouped bars: mean score per metric, one bar per model."""
    figure = go.Figure(
        [
            go.Bar(
                name=chart_text(s.model),
                x=list(metrics),
                y=[s.metrics[m].mean if s.metrics[m].mean is not None else 0 for m in metrics],
                text=[
                    f"{s.metrics[m].mean:.2f}" if s.metrics[m].mean is not None else "n/a" for m in metrics
                ],
            )
            for s in summaries
        ]
    )
    figure.update_layout(
        barmode="group", title="Mean score per metric", yaxis={"title": "score", "range": [0, 1.05]}
    )
    return figure


def latency_box_figure(cells: Sequence[Cell], models: Sequence[str]) -> go.Figure:
    """Distribution of total time per answer, per model (failed calls left out)."""
    figure = go.Figure(
        [
            go.Box(
                name=chart_text(model),
                y=[
                    c.result.total_s
                    for c in cells
                    if c.model == model and c.result.ok and c.result.total_s is not None
                ],
                boxpoints="outliers",
            )
            for model in models
        ]
    )
    figure.update_layout(title="Latency per answer (s, measured)", yaxis_title="seconds", showlegend=False)
    return figure
