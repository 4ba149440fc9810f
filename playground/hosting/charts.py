"""The admin page's chart (plotly loads only when it is drawn)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from playground.core.safe_text import chart_text


def spend_per_day_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Known spend per day, stacked by user (rows from UsageReport.spend_by("day", "owner"))."""
    figure = go.Figure()
    for owner in sorted({str(r["owner"]) for r in rows}):
        mine = sorted((r for r in rows if r["owner"] == owner), key=lambda r: r["day"])
        who = chart_text(str(mine[0].get("user") or owner))  # the user's name where known, as plain text
        figure.add_bar(name=who, x=[r["day"] for r in mine], y=[float(r["spend (USD)"]) for r in mine])
    figure.update_layout(
        barmode="stack",
        showlegend=True,  # also with one user: the legend says whose the bars are
        title="Spend per day by user (USD, known prices; source: usage ledger)",
        xaxis={"title": "day (UTC)", "type": "category"},  # days as labels, not a time axis of one instant
        yaxis_title="USD",
        legend_title="user",
    )
    return figure
