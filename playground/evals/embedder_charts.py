"""Plotly figure of an embedding model compared: its chunks in 2-D (PCA), coloured by file, and where each
question lands, marked by whether the model found its gold in the first 5 chunks."""

from __future__ import annotations

import plotly.graph_objects as go

from playground.core.safe_text import chart_text
from playground.evals.embedders import Projection

FOUND_WITHIN = 5


def projection_figure(projection: Projection) -> go.Figure:
    """Chunks (one trace per file) and questions (found in the first 5 or not) on the first two axes."""
    figure = go.Figure()
    for file in sorted({c.file for c in projection.chunks}):
        mine = [c for c in projection.chunks if c.file == file]
        figure.add_trace(
            go.Scatter(
                x=[c.x for c in mine],
                y=[c.y for c in mine],
                mode="markers",
                name=chart_text(file),  # file names and texts are the user's: shown, never rendered
                marker={"size": 8, "opacity": 0.7},
                hovertext=[chart_text(f"{file} · chunk {c.position + 1}: {c.text[:120]}") for c in mine],
                hoverinfo="text",
            )
        )
    for found in (True, False):
        mine = [q for q in projection.questions if (q.rank is not None and q.rank <= FOUND_WITHIN) == found]
        if not mine:
            continue
        figure.add_trace(
            go.Scatter(
                x=[q.x for q in mine],
                y=[q.y for q in mine],
                mode="markers",
                name=f"question, gold {'in' if found else 'not in'} the first {FOUND_WITHIN}",
                marker={"symbol": "star" if found else "x", "size": 13, "color": "black" if found else "red"},
                hovertext=[
                    chart_text(f"{q.text[:160]} ({q.label}; gold at rank {q.rank or '>100'})") for q in mine
                ],
                hoverinfo="text",
            )
        )
    first, second = projection.variance
    figure.update_layout(
        title=chart_text(f"{projection.embedder}: chunks and questions, first two principal components"),
        xaxis_title=f"PC1 ({first:.0%} of the chunks' variance)",
        yaxis_title=f"PC2 ({second:.0%})",
        legend_title="file / question",
    )
    return figure
