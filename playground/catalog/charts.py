"""The catalog's charts across the models in view: prices (log scales) and context windows, one colour per
model; models that cannot be drawn are named under the chart, never drawn as 0."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.catalog.entries import CatalogEntry
from playground.core.chart_labels import point_labels, wrapped
from playground.core.charting import (
    CHART_HEIGHT_PX,
    PLOT_HEIGHT_PX,
    PLOT_WIDTH_PX,
    AxisRange,
    Chart,
    ChartNote,
    ColourMap,
    bars_height,
    not_priced_text,
    style,
)
from playground.core.safe_text import chart_text

# Taller than most charts: prices cluster (a provider's small models, resellers at the same price), and
# their labels need the room; the context window chart beside it is as tall with ten models.
PRICE_HEIGHT_PX = 480
PRICE_PLOT_PX = PRICE_HEIGHT_PX - (CHART_HEIGHT_PX - PLOT_HEIGHT_PX)


def catalog_charts(entries: Sequence[CatalogEntry]) -> list[Chart | ChartNote]:
    """Price and context window charts for the models in view, in one colour map (none for a single model:
    its card and the table say it all)."""
    if len(entries) < 2:
        return []
    colours = ColourMap.of(e.key for e in entries)
    return [price_chart(entries, colours), context_chart(entries, colours)]


def _priced(entry: CatalogEntry) -> bool:
    return bool(entry.price_input_per_mtok and entry.price_output_per_mtok)  # a log axis cannot show 0


def price_chart(entries: Sequence[CatalogEntry], colours: ColourMap) -> Chart | ChartNote:
    """Input vs output price of the priced models; one line instead when fewer than two have a price."""
    drawn = [e for e in entries if _priced(e)]
    off = [e for e in entries if not _priced(e)]
    local = [e.key for e in off if e.price_source == "local"]
    input_only = [e.key for e in off if e.price_input_per_mtok and not e.price_output_per_mtok]
    unknown = [e.key for e in off if e.price_source != "local" and e.key not in input_only]
    parts = [not_priced_text(local, unknown)]
    if input_only:  # embedding models: a price per input token, none per output token
        parts.append(f"{', '.join(input_only)} priced on input tokens only")
    unpriced = "; ".join(p for p in parts if p)
    if len(drawn) < 2:
        only = f"only {drawn[0].key} has a price" if drawn else "no model in view has a price"
        return ChartNote("cat-price-chart", f"No price chart: {only}; {unpriced}.")
    sources = sorted({e.price_source for e in drawn})
    return Chart(
        "cat-price-chart",
        price_figure(drawn, colours),
        "USD per million input tokens (across) and output tokens (up), both on log scales; models at the "
        f"same prices share a point. Prices from {', '.join(sources)}.",
        f"Not drawn, no price: {unpriced}." if unpriced else "",
    )


def price_figure(drawn: Sequence[CatalogEntry], colours: ColourMap) -> go.Figure:
    """One point per price pair (models at the same prices are listed at one point), each label placed
    where it covers no other; both axes log, in whole decades."""
    points: dict[tuple[float, float], list[CatalogEntry]] = {}
    for entry in drawn:
        price = (float(entry.price_input_per_mtok or 0), float(entry.price_output_per_mtok or 0))
        points.setdefault(price, []).append(entry)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_range, y_range = AxisRange.around(xs, log=True), AxisRange.around(ys, log=True)
    # Hub finds and user endpoints name these models: escaped; the line breaks between names are ours.
    labels = [_group_label([e.key for e in group]) for group in points.values()]
    figure = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            hovertext=labels,
            mode="markers",
            marker={"size": 14, "color": [colours.colour(group[0].key) for group in points.values()]},
            customdata=[group[0].price_source for group in points.values()],
            hovertemplate="%{hovertext}<br>in $%{x}/Mtok · out $%{y}/Mtok<br>%{customdata}<extra></extra>",
        )
    )
    decades = {"type": "log", "dtick": 1, "tickprefix": "$", "tickformat": "~g"}
    figure.update_layout(
        annotations=point_labels(xs, ys, labels, x_range, y_range, area=(PLOT_WIDTH_PX, PRICE_PLOT_PX)),
        xaxis={**decades, "title": "input, per Mtok", "range": x_range.plotly},
        yaxis={**decades, "title": "output, per Mtok", "range": y_range.plotly},
    )
    return style(figure, "Price per million tokens", height=PRICE_HEIGHT_PX)


def _group_label(keys: Sequence[str], width: int = 22) -> str:
    """The names at one point as chart text, as many to a line as fit in about `width` characters."""
    lines: list[list[str]] = [[]]
    for key in keys:
        if lines[-1] and len(", ".join([*lines[-1], key])) > width:
            lines.append([])
        lines[-1].append(key)
    if len(keys) == 1:
        return wrapped(keys[0])
    return ",<br>".join(chart_text(", ".join(line)) for line in lines)


def context_chart(entries: Sequence[CatalogEntry], colours: ColourMap) -> Chart | ChartNote:
    """Context window per model, longest at the top (log scale); unknown ones named, not drawn as 0."""
    known = sorted((e for e in entries if e.context_window), key=lambda e: e.context_window or 0)
    unknown = [e.key for e in entries if not e.context_window]
    if not known:
        return ChartNote("cat-context-chart", "No context window chart: no model in view has a known one.")
    figure = go.Figure(
        go.Bar(
            x=[e.context_window for e in known],
            y=[wrapped(e.key) for e in known],
            orientation="h",
            marker={"color": colours.colours(e.key for e in known)},
            hovertemplate="%{y}: %{x:,} tokens<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"type": "log", "title": "tokens", "dtick": 1, "tickformat": "~s"},
        yaxis={"type": "category"},
    )
    return Chart(
        "cat-context-chart",
        style(figure, "Context window", height=bars_height(len(known))),
        "Tokens a model takes in one call, prompt and answer together (log scale), as its spec gives it "
        "(the built-in list or your models file).",
        f"Not drawn, unknown: {', '.join(unknown)}." if unknown else "",
    )
