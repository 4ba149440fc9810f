"""Plotly figures comparing finished calls: latency, cost, speed, cost vs latency with the Pareto front."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.core.results import RunResult
from playground.core.safe_text import chart_text


def _answered(results: Sequence[RunResult]) -> list[RunResult]:
    return [r for r in results if r.ok and r.total_s is not None]


def latency_figure(results: Sequence[RunResult]) -> go.Figure:
    """Stacked bars per model: time to first token, then generation (total − TTFT)."""
    rows = _answered(results)
    models = [chart_text(r.model) for r in rows]  # model keys may come from users: shown as text
    ttft = [r.ttft_s or 0.0 for r in rows]
    generation = [(r.total_s or 0.0) - (r.ttft_s or 0.0) for r in rows]
    figure = go.Figure(
        [
            go.Bar(name="time to first token", x=models, y=ttft),
            go.Bar(name="generation", x=models, y=generation),
        ]
    )
    figure.update_layout(barmode="stack", title="Latency (s, measured)", yaxis_title="seconds")
    return figure


def cost_figure(results: Sequence[RunResult]) -> go.Figure:
    """Cost per model in USD; models without a price are named in the title, not drawn as $0."""
    priced = [r for r in results if r.cost_usd is not None]
    unpriced = sorted({chart_text(f"{r.model} ({r.cost_source})") for r in results if r.cost_usd is None})
    figure = go.Figure(
        [go.Bar(x=[chart_text(r.model) for r in priced], y=[float(r.cost_usd or 0) for r in priced])]
    )
    title = "Cost (USD)"
    if unpriced:
        title += " — no price: " + ", ".join(unpriced)
    figure.update_layout(title=title, yaxis_title="USD")
    return figure


def speed_figure(results: Sequence[RunResult]) -> go.Figure:
    """Decode speed per model in output tokens per second."""
    rows = [r for r in _answered(results) if r.output_tokens_per_s is not None]
    figure = go.Figure(
        [go.Bar(x=[chart_text(r.model) for r in rows], y=[r.output_tokens_per_s for r in rows])]
    )
    figure.update_layout(title="Decode speed (output tokens / (total − TTFT))", yaxis_title="tokens/s")
    return figure


def pareto_front(points: Sequence[tuple[str, float, float]]) -> set[str]:
    """Names of the points no other point beats on both cost and latency (lower is better)."""
    front = set()
    for name, cost, latency in points:
        dominated = any(
            (c <= cost and t <= latency) and (c < cost or t < latency)
            for other, c, t in points
            if other != name
        )
        if not dominated:
            front.add(name)
    return front


def cost_latency_figure(results: Sequence[RunResult]) -> go.Figure:
    """Scatter of cost vs total time; Pareto-optimal models are marked (local models count as $0 here
    only for placement, and are labelled local)."""
    rows = _answered(results)
    points = [(r.model, float(r.cost_usd) if r.cost_usd is not None else 0.0, r.total_s or 0.0) for r in rows]
    front = pareto_front(points)
    labels = [chart_text(f"{r.model}{' (local)' if r.cost_usd is None else ''}") for r in rows]
    figure = go.Figure(
        go.Scatter(
            x=[p[2] for p in points],
            y=[p[1] for p in points],
            text=labels,
            mode="markers+text",
            textposition="top center",
            marker={
                "size": 14,
                "symbol": ["star" if p[0] in front else "circle" for p in points],
            },
        )
    )
    figure.update_layout(
        title="Cost vs latency (★ = Pareto front: nothing is both cheaper and faster)",
        xaxis_title="total time (s)",
        yaxis_title="cost (USD)",
    )
    return figure


def repeat_box_figure(results: Sequence[RunResult], metric: str) -> go.Figure:
    """Box plot per model of a metric over repeated runs (ttft_s or total_s)."""
    figure = go.Figure()
    for model in dict.fromkeys(r.model for r in results):
        values = [
            getattr(r, metric)
            for r in results
            if r.model == model and r.ok and getattr(r, metric) is not None
        ]
        figure.add_trace(go.Box(y=values, name=chart_text(model), boxpoints="all"))
    figure.update_layout(title=f"{metric} over repeats (s)", yaxis_title="seconds")
    return figure
