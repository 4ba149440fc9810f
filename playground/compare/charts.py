"""The charts of one comparison: latency, decode speed, cost, cost vs latency with the Pareto front, and the
spread of repeated runs; only those that mean something for the models and runs in view."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.compare.stats import SPREAD_FIELDS
from playground.core.chart_labels import point_labels, wrapped
from playground.core.charting import (
    FONT_PX,
    NEUTRAL,
    AxisRange,
    Chart,
    ChartNote,
    ColourMap,
    bars_height,
    not_priced_text,
    style,
    usd_text,
    usd_tick_format,
)
from playground.core.results import RunResult


def comparison_charts(results: Sequence[RunResult], order: Sequence[str] = ()) -> list[Chart | ChartNote]:
    """The charts for a run's results, models in `order` (the run's, as its answers are shown; else as the
    results come), with one colour per model throughout.

    Several models answered: latency, speed, and cost where some have a price (one line where none has).
    Repeated runs: the spread of each timing over the repeats. One model answering once: one line saying
    there is nothing to chart, as its figures are all in its caption."""
    place = {model: index for index, model in enumerate(order)}
    first = sorted((r for r in results if r.repeat_index == 0), key=lambda r: place.get(r.model, len(place)))
    colours = ColourMap.of(r.model for r in first)
    answered = _answered(first)
    charts: list[Chart | ChartNote] = []
    if len(answered) >= 2:
        charts += [latency_chart(answered, colours), speed_chart(answered, colours)]
        charts += cost_charts(answered, colours)
    repeats = 1 + max((r.repeat_index for r in results), default=0)
    if repeats > 1:
        charts += [repeat_chart(results, name, colours) for name in SPREAD_FIELDS]
    if not charts and answered:
        charts.append(
            ChartNote(
                "chart-one-answer",
                "No charts for one model answering once: its figures are under its answer. Charts compare "
                "two or more models, or the runs of one model repeated (Repeat k).",
            )
        )
    return charts


def _answered(results: Sequence[RunResult]) -> list[RunResult]:
    return [r for r in results if r.ok and r.total_s is not None]


def _names(results: Sequence[RunResult]) -> list[str]:
    return [wrapped(r.model) for r in results]  # model keys may come from users: escaped by `wrapped`


def _bars(figure: go.Figure, rows: int, title: str, x_title: str, longest: float | None = None) -> go.Figure:
    """A horizontal bar chart's layout: one row per model, the first at the top; height for every name; room
    at the right for the values written at the bars' ends when `longest` is given."""
    figure.update_layout(xaxis_title=x_title, yaxis={"autorange": "reversed", "type": "category"})
    if longest:
        figure.update_xaxes(range=[0, longest * 1.4])
    return style(figure, title, height=bars_height(rows))


def _ends(values: Sequence[str]) -> dict[str, object]:
    """A bar trace's settings writing `values` past the end of each bar."""
    return {
        "text": list(values),
        "textposition": "outside",
        "cliponaxis": False,
        "textfont": {"size": FONT_PX},
    }


def latency_figure(results: Sequence[RunResult], colours: ColourMap | None = None) -> go.Figure:
    """Stacked bars per model in its colour: time to first token (solid), then generation (pale)."""
    colours = colours or ColourMap.of(r.model for r in results)
    models, shades = _names(results), colours.colours(r.model for r in results)
    ttft = RunResult.label("ttft_s")
    figure = go.Figure(
        [
            go.Bar(y=models, x=[r.ttft_s or 0.0 for r in results], orientation="h", marker={"color": shades}),
            go.Bar(
                y=models,
                x=[(r.total_s or 0.0) - (r.ttft_s or 0.0) for r in results],
                orientation="h",
                marker={"color": shades, "opacity": 0.4},
                **_ends(f"{r.total_s or 0.0:.2f} s" for r in results),
            ),
        ]
    )
    # The key to the two parts, as a line above the bars: the colours stand for the models.
    figure.add_annotation(
        text=f"solid: {ttft.name} · pale: generation",
        xref="paper",
        yref="paper",
        x=0,
        y=1.01,
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        font={"size": FONT_PX - 2, "color": NEUTRAL},
    )
    figure.update_layout(barmode="stack")
    return _bars(figure, len(results), "Latency", "seconds", max(r.total_s or 0.0 for r in results))


def latency_chart(results: Sequence[RunResult], colours: ColourMap) -> Chart:
    """The latency bars with the caption that says what each part measures."""
    return Chart(
        "chart-latency",
        latency_figure(results, colours),
        "Whole bar: total time. Solid: time to the first token; pale: generating the rest. Measured by the "
        "app's runner, after any queue wait.",
    )


def speed_chart(results: Sequence[RunResult], colours: ColourMap) -> Chart | ChartNote:
    """Decode speed per model: output tokens / (total − TTFT); a line when no answer's could be timed."""
    rows = [r for r in results if r.output_tokens_per_s is not None]
    label = RunResult.label("output_tokens_per_s")
    if not rows:
        return ChartNote(
            "chart-speed",
            "No decode speed chart: no answer took long enough to time its generation (one burst, or one "
            "token).",
        )
    figure = go.Figure(
        go.Bar(
            y=_names(rows),
            x=[r.output_tokens_per_s for r in rows],
            orientation="h",
            marker={"color": colours.colours(r.model for r in rows)},
            **_ends(f"{r.output_tokens_per_s or 0:.0f}" for r in rows),
        )
    )
    missing = [r.model for r in results if r.output_tokens_per_s is None]
    return Chart(
        "chart-speed",
        _bars(
            figure,
            len(rows),
            label.title,
            label.unit,
            max((r.output_tokens_per_s or 0 for r in rows), default=0),
        ),
        "Output tokens per second of generation: output tokens ÷ (total time − time to first token).",
        f"Not drawn, generation too short to time (one burst, or one token): {', '.join(missing)}."
        if missing
        else "",
    )


def cost_charts(results: Sequence[RunResult], colours: ColourMap) -> list[Chart | ChartNote]:
    """Cost per priced model and cost vs latency (two priced models at least), with the unpriced named; or
    one line when none has a price. A model without a price is never drawn as $0."""
    priced = [r for r in results if r.cost_usd is not None]
    local = [r.model for r in results if r.cost_usd is None and r.cost_source == "local"]
    unknown = [r.model for r in results if r.cost_usd is None and r.cost_source != "local"]
    if not priced:
        return [
            ChartNote(
                "chart-cost",
                f"No cost charts: no model in this run has a price; {not_priced_text(local, unknown)}.",
            )
        ]
    left_out = not_priced_text(local, unknown)
    left_out = f"Not drawn, no price: {left_out}." if left_out else ""
    sources = ", ".join(sorted({r.cost_source for r in priced}))
    charts: list[Chart | ChartNote] = [
        Chart(
            "chart-cost", cost_figure(priced, colours), f"USD for this call; prices from {sources}.", left_out
        )
    ]
    if len(priced) >= 2:
        charts.append(
            Chart(
                "chart-pareto",
                cost_latency_figure(priced, colours),
                "Each model's cost against its total time. ★ marks the Pareto front: no other model is "
                "both cheaper and faster.",
                left_out,
            )
        )
    return charts


def cost_figure(priced: Sequence[RunResult], colours: ColourMap | None = None) -> go.Figure:
    """Cost per model in USD, for results that have a price (the caller leaves the others out)."""
    colours = colours or ColourMap.of(r.model for r in priced)
    costs = [float(r.cost_usd or 0) for r in priced]
    figure = go.Figure(
        go.Bar(
            y=_names(priced),
            x=costs,
            orientation="h",
            marker={"color": colours.colours(r.model for r in priced)},
            **_ends(usd_text(c) for c in costs),
        )
    )
    figure.update_layout(xaxis={"tickformat": usd_tick_format(max(costs, default=0)), "nticks": 4})
    return _bars(figure, len(priced), "Cost", "USD", max(costs, default=0))


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


def cost_latency_figure(priced: Sequence[RunResult], colours: ColourMap) -> go.Figure:
    """Scatter of cost against total time for priced results, each labelled where it covers no other label;
    Pareto-optimal models are stars."""
    costs = [float(r.cost_usd or 0) for r in priced]
    times = [r.total_s or 0.0 for r in priced]
    front = pareto_front([(r.model, c, t) for r, c, t in zip(priced, costs, times, strict=True)])
    x_range, y_range = AxisRange.around(times, from_zero=True), AxisRange.around(costs, from_zero=True)
    labels = _names(priced)
    figure = go.Figure(
        go.Scatter(
            x=times,
            y=costs,
            hovertext=labels,
            hoverinfo="text+x+y",
            mode="markers",
            marker={
                "size": 16,
                "color": colours.colours(r.model for r in priced),
                "symbol": ["star" if r.model in front else "circle" for r in priced],
                "line": {"width": 1, "color": "white"},
            },
        )
    )
    figure.update_layout(
        annotations=point_labels(times, costs, labels, x_range, y_range),
        xaxis={"title": f"{RunResult.label('total_s')}", "range": x_range.plotly},
        yaxis={
            "title": "USD",
            "range": y_range.plotly,
            "tickformat": usd_tick_format(max(costs)),
            "nticks": 5,
        },
    )
    return style(figure, "Cost vs latency")


def repeat_chart(results: Sequence[RunResult], field_name: str, colours: ColourMap) -> Chart:
    """Box plot per model of one measured field over the repeated runs, every run shown as a point."""
    label = RunResult.label(field_name)
    figure = go.Figure()
    for model in colours.keys:
        values = [
            getattr(r, field_name)
            for r in results
            if r.model == model and r.ok and getattr(r, field_name) is not None
        ]
        figure.add_trace(
            go.Box(
                x=values,
                name=wrapped(model),
                orientation="h",
                boxpoints="all",
                pointpos=0,
                jitter=0.4,
                marker={"color": colours.colour(model), "size": 8},
                line={"color": colours.colour(model)},
            )
        )
    runs = 1 + max(r.repeat_index for r in results)
    return Chart(
        f"chart-box-{field_name}",
        _bars(figure, len(colours.keys), f"{label.title}, {runs} runs", str(label)),
        f"{label.title} ({label.unit}) of each of the {runs} runs per model (points), with the median and "
        "quartiles (box). Failed runs are left out.",
    )
