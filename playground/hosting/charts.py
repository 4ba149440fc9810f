"""The admin page's chart (plotly loads only when it is drawn)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from playground.core.charting import ColourMap, style
from playground.core.safe_text import chart_text
from playground.hosting.report import SPEND


def spend_per_day_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Known spend per day, stacked by user (rows from UsageReport.spend_by("day", "owner")): a short title,
    as the page's caption says where the figures come from (SPEND_CAPTION)."""
    figure = go.Figure()
    owners = sorted({str(r["owner"]) for r in rows})
    colours = ColourMap.of(owners)  # one colour per user (the palette every chart shares)
    for owner in owners:
        mine = sorted((r for r in rows if r["owner"] == owner), key=lambda r: r["day"])
        who = chart_text(str(mine[0].get("user") or owner))  # the user's name where known, as plain text
        figure.add_bar(
            name=who,
            x=[r["day"] for r in mine],
            y=[float(r[SPEND]) for r in mine],
            marker={"color": colours.colour(owner)},
        )
    figure.update_layout(
        barmode="stack",
        xaxis={"title": "day (UTC)", "type": "category"},  # days as labels, not a time axis of one instant
        yaxis={"title": "USD", "tickprefix": "$"},
        legend_title="user",
    )
    return style(figure, "Spend per day", legend=True)  # also with one user: the legend says whose


SPEND_CAPTION = "Known spend per day (UTC), stacked by user; source: the usage ledger (calls of unknown price count as 0)."
