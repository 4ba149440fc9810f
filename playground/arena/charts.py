"""Plotly figures of an arena's leaderboard: the win-rate matrix, and each rating with its 95% interval."""

from __future__ import annotations

import plotly.graph_objects as go

from playground.arena.ratings import Leaderboard
from playground.core.safe_text import chart_text


def win_rate_figure(board: Leaderboard, font_size: int = 12) -> go.Figure:
    """Heatmap: row model's share of its battles won against the column model (ties as half); blank
    where two models never met."""
    names = [chart_text(m) for m in board.models]  # model keys may come from users: shown as text
    z = [[None if v is None else round(100 * v) for v in row] for row in board.win_rates]
    text = [["" if v is None else f"{v}%" for v in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=100,
            colorscale="RdBu",
            colorbar={"title": "% won"},
            hovertemplate="%{y} beat %{x} in %{z}% of their battles<extra></extra>",
        )
    )
    figure.update_layout(
        title="Win rate, row vs column (%)",  # short for the projector; the caption says ties count half
        xaxis_title="against",
        yaxis_title="model",
        yaxis_autorange="reversed",
        yaxis_automargin=True,
        font={"size": font_size},
    )
    return figure


def ratings_figure(board: Leaderboard, font_size: int = 12) -> go.Figure:
    """Each model's rating (Elo scale) as a point with its bootstrap 95% interval, best at the top."""
    ratings = board.ratings
    figure = go.Figure(
        go.Scatter(
            x=[r.rating for r in ratings],
            y=[chart_text(r.model) for r in ratings],
            mode="markers",
            marker={"size": 12},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [r.upper - r.rating for r in ratings],
                "arrayminus": [r.rating - r.lower for r in ratings],
            },
            hovertemplate="%{y}: %{x:.0f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Rating, 95% interval",  # short for the projector; the caption names the fit and rounds
        xaxis_title="rating (Elo scale, 1000 = the mean model)",
        yaxis_autorange="reversed",
        yaxis_automargin=True,
        font={"size": font_size},
    )
    return figure
