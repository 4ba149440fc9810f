"""Plotly figures for an evaluation: score vs cost, score per metric, latency per model, and what examples
buy and cost (few-shot prompting: score, input tokens, cost and latency against the number of examples)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.core.safe_text import chart_text
from playground.evals.summary import ModelSummary
from playground.storage.evals import Arm, Cell


def score_cost_figure(summaries: Sequence[ModelSummary], metric: str) -> go.Figure:
    """Mean score (with its 95% interval) against total cost; local or unpriced models sit at $0, named."""
    shown = [s for s in summaries if s.metrics.get(metric) and s.metrics[metric].mean is not None]
    means = [s.metrics[metric].mean or 0.0 for s in shown]
    figure = go.Figure(
        go.Scatter(
            x=[float((s.cost_usd or 0) + (s.judge_cost_usd or 0)) for s in shown],
            y=means,
            error_y=_interval_bars(shown, metric),
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


def _interval_bars(summaries: Sequence[ModelSummary], metric: str) -> dict[str, object]:
    """Plotly error bars drawing each summary's 95% interval around its mean for `metric`."""
    means = [s.metrics[metric].mean or 0.0 for s in summaries]
    return {
        "type": "data",
        "symmetric": False,
        "array": [(s.metrics[metric].ci_high or m) - m for s, m in zip(summaries, means, strict=True)],
        "arrayminus": [m - (s.metrics[metric].ci_low or m) for s, m in zip(summaries, means, strict=True)],
    }


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


def latency_box_figure(cells: Sequence[Cell], arms: Sequence[Arm]) -> go.Figure:
    """Distribution of total time per answer, per arm (failed calls left out)."""
    figure = go.Figure(
        [
            go.Box(
                name=chart_text(arm.label),
                y=[
                    c.result.total_s
                    for c in cells
                    if arm.holds(c) and c.result.ok and c.result.total_s is not None
                ],
                boxpoints="outliers",
            )
            for arm in arms
        ]
    )
    figure.update_layout(title="Latency per answer (s, measured)", yaxis_title="seconds", showlegend=False)
    return figure


def _by_model(summaries: Sequence[ModelSummary]) -> dict[str, list[ModelSummary]]:
    """Each model's arms, fewest examples first."""
    lines: dict[str, list[ModelSummary]] = {}
    for summary in sorted(summaries, key=lambda s: s.shots):
        lines.setdefault(summary.model_key or summary.model, []).append(summary)
    return lines


def shots_score_figure(summaries: Sequence[ModelSummary], metric: str) -> go.Figure:
    """Mean score with its 95% interval against the number of examples, one line per model."""
    figure = go.Figure()
    for model, arms in _by_model(summaries).items():
        scored = [a for a in arms if a.metrics.get(metric) and a.metrics[metric].mean is not None]
        means = [a.metrics[metric].mean or 0.0 for a in scored]
        figure.add_scatter(
            name=chart_text(model),
            x=[a.shots for a in scored],
            y=means,
            mode="lines+markers",
            error_y=_interval_bars(scored, metric),
        )
    figure.update_layout(
        title=f"{metric} against examples (mean, 95% interval)",
        xaxis={"title": "examples in the prompt (k)", "dtick": 1},
        yaxis={"title": "score", "range": [0, 1.05]},
    )
    return figure


def shots_cost_figure(summaries: Sequence[ModelSummary]) -> go.Figure:
    """What examples cost, against k: input tokens per answer, answers' cost (priced models only, the others
    named under the chart), and median latency per answer."""
    figure = make_subplots(
        rows=1, cols=3, subplot_titles=("input tokens / answer", "cost (USD)", "p50 latency (s)")
    )
    unpriced = []
    for model, arms in _by_model(summaries).items():
        name, ks = chart_text(model), [a.shots for a in arms]
        figure.add_scatter(
            x=ks,
            y=[a.input_tokens / a.rows if a.rows else None for a in arms],
            name=name,
            legendgroup=name,
            mode="lines+markers",
            row=1,
            col=1,
        )
        if all(a.cost_usd is not None for a in arms):
            figure.add_scatter(
                x=ks,
                y=[float(a.cost_usd or 0) for a in arms],
                name=name,
                legendgroup=name,
                showlegend=False,
                mode="lines+markers",
                row=1,
                col=2,
            )
        else:
            unpriced.append(model)
        figure.add_scatter(
            x=ks,
            y=[a.latency_p50_s for a in arms],
            name=name,
            legendgroup=name,
            showlegend=False,
            mode="lines+markers",
            row=1,
            col=3,
        )
    title = "What examples cost"
    if unpriced:
        title += "<br><sub>no price, so no cost line: " + chart_text(", ".join(unpriced)) + "</sub>"
    figure.update_layout(title=title)
    figure.update_xaxes(title_text="k", dtick=1)
    return figure
