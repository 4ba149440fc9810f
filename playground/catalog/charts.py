"""Plotly figures across catalog models: prices (log scale) and context windows."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.catalog.entries import CatalogEntry
from playground.core.safe_text import chart_text


def price_figure(entries: Sequence[CatalogEntry]) -> go.Figure:
    """Input vs output USD per million tokens, both axes log; models off the chart are named."""
    drawn = [
        e
        for e in entries
        if e.price_input_per_mtok and e.price_output_per_mtok  # a log axis cannot show 0 or unknown
    ]
    figure = go.Figure(
        go.Scatter(
            x=[float(e.price_input_per_mtok or 0) for e in drawn],
            y=[float(e.price_output_per_mtok or 0) for e in drawn],
            mode="markers+text",
            text=[chart_text(e.key) for e in drawn],  # Hub finds and user endpoints name these
            textposition="top center",
            customdata=[e.price_source for e in drawn],
            hovertemplate="%{text}<br>in $%{x}/Mtok · out $%{y}/Mtok<br>%{customdata}<extra></extra>",
        )
    )
    off = [e for e in entries if e not in drawn]
    local = [e.key for e in off if e.price_source == "local"]
    other = [e.key for e in off if e.price_source != "local"]
    notes = []
    if local:
        notes.append("local, no cost: " + ", ".join(local))
    if other:
        notes.append("no price or a zero price: " + ", ".join(other))
    figure.update_layout(
        title="Price, USD per million tokens (log scale)"
        + ("<br><sub>" + " · ".join(notes) + "</sub>" if notes else ""),
        xaxis={"type": "log", "title": "input $/Mtok"},
        yaxis={"type": "log", "title": "output $/Mtok"},
    )
    return figure


def context_figure(entries: Sequence[CatalogEntry]) -> go.Figure:
    """Context window in tokens per model (log scale); unknown ones are named, not drawn as 0."""
    known = sorted((e for e in entries if e.context_window), key=lambda e: e.context_window or 0)
    figure = go.Figure(
        go.Bar(x=[e.context_window for e in known], y=[chart_text(e.key) for e in known], orientation="h")
    )
    unknown = [e.key for e in entries if not e.context_window]
    title = "Context window (tokens, log scale)"
    if unknown:
        title += "<br><sub>unknown: " + chart_text(", ".join(unknown)) + "</sub>"
    figure.update_layout(title=title, xaxis={"type": "log", "title": "tokens"})
    return figure
