"""The charts of an evaluation: score vs cost, score per metric, latency per answer, and what examples buy
and cost (few-shot prompting: score, input tokens, cost and latency against the number of examples); one
colour per model throughout, and a model's arms (k examples, retrieval) told apart by pattern or label."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.core.chart_labels import line_count, point_labels, wrapped
from playground.core.charting import (
    BAR_PX,
    CHART_HEIGHT_PX,
    FONT_PX,
    PLOT_HEIGHT_PX,
    PLOT_WIDTH_PX,
    AxisRange,
    Chart,
    ChartNote,
    ColourMap,
    bars_height,
    not_priced_text,
    style,
    usd_tick_format,
)
from playground.core.results import RunResult
from playground.core.safe_text import chart_text
from playground.evals.summary import ModelSummary
from playground.storage.evals import Arm, Cell

# Bar patterns for a model's second, third… arm (its first is solid): the colour says which model.
ARM_PATTERNS = ("", "/", "x", ".", "-", "+")
MENU_PX = 35  # what the metric menu above the plot takes from its height (measured on the screenshots)
INTERVAL = "95% interval: Wilson for pass/fail scores, Student's t for graded ones (evals/summary.py)"


def model_colours(summaries: Sequence[ModelSummary]) -> ColourMap:
    """The page's one colour map: one colour per model, in the evaluation's order of arms."""
    return ColourMap.of(_model(s) for s in summaries)


def _model(summary: ModelSummary) -> str:
    return summary.model_key or summary.model


def evaluation_charts(
    summaries: Sequence[ModelSummary], cells: Sequence[Cell], arms: Sequence[Arm], metrics: Sequence[str]
) -> list[Chart | ChartNote]:
    """Score vs cost (two arms at least; priced ones only, or one line when fewer than two have a price), the
    mean score per metric, and the latency of each answer."""
    colours = model_colours(summaries)
    charts: list[Chart | ChartNote] = []
    if len(summaries) >= 2:
        charts.append(score_cost_chart(summaries, metrics, colours))
    charts.append(metric_bars_chart(summaries, metrics, colours))
    charts.append(latency_box_chart(cells, arms, colours))
    return charts


def _unpriced(summaries: Sequence[ModelSummary]) -> str:
    """Which arms have no price, local ones apart."""
    unpriced = [s for s in summaries if s.cost_usd is None]
    local = [s.model for s in unpriced if "local" in s.cost_sources]
    return not_priced_text(local, [s.model for s in unpriced if "local" not in s.cost_sources])


def score_cost_chart(
    summaries: Sequence[ModelSummary], metrics: Sequence[str], colours: ColourMap
) -> Chart | ChartNote:
    """Mean score with its interval against total cost, for the arms with a price (two at least)."""
    priced = [s for s in summaries if s.cost_usd is not None]
    unpriced = _unpriced(summaries)
    if len(priced) < 2:
        only = f"only {priced[0].model} has a price" if priced else "no model in this evaluation has a price"
        return ChartNote("ev-cost", f"No score-vs-cost chart: {only}; {unpriced}.")
    if all(_mean(s, m) is None for s in priced for m in metrics):
        return ChartNote("ev-cost", "No score-vs-cost chart: no answer of a priced model could be scored.")
    sources = sorted({src for s in priced for src in s.cost_sources if src != "local"})
    return Chart(
        "ev-cost",
        score_cost_figure(priced, metrics, colours),
        f"Mean score per model ({INTERVAL}) against what its answers cost, judge calls included; prices "
        f"from {', '.join(sources)}." + (" Choose the metric at the top right." if len(metrics) > 1 else ""),
        f"Not drawn, no price: {unpriced}." if unpriced else "",
    )


def score_cost_figure(
    priced: Sequence[ModelSummary], metrics: Sequence[str], colours: ColourMap
) -> go.Figure:
    """One point per priced arm and metric, each labelled where it covers no other label or interval, with a
    menu to choose the metric when there are several."""
    costs = [float((s.cost_usd or 0) + (s.judge_cost_usd or 0)) for s in priced]
    x_range, y_range = AxisRange.around(costs, from_zero=True), AxisRange(-0.1, 1.1)  # room under 0
    figure = go.Figure()
    notes: dict[str, list[dict[str, object]]] = {}
    for index, metric in enumerate(metrics):
        shown = [(s, c) for s, c in zip(priced, costs, strict=True) if _mean(s, metric) is not None]
        for summary, cost in shown:
            figure.add_scatter(
                x=[cost],
                y=[_mean(summary, metric)],
                error_y={**_interval_bars([summary], metric), "color": colours.colour(_model(summary))},
                hovertext=[chart_text(summary.model)],  # model keys may come from users
                hoverinfo="text+x+y",
                mode="markers",
                marker={"size": 14, "color": colours.colour(_model(summary))},
                visible=index == 0,
                meta=metric,
            )
        area = (PLOT_WIDTH_PX, PLOT_HEIGHT_PX - (MENU_PX if len(metrics) > 1 else 0))
        notes[metric] = _score_labels(shown, metric, x_range, y_range, area)
    figure.update_layout(
        annotations=notes[metrics[0]],
        xaxis={
            "title": "USD (answers + judge)",
            "range": x_range.plotly,
            "nticks": 4,
            "tickformat": usd_tick_format(max(costs)),
        },
        yaxis={
            "title": f"mean {metrics[0]}" if len(metrics) == 1 else "mean score",
            "range": y_range.plotly,
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
        },
    )
    if len(metrics) > 1:
        figure.update_layout(updatemenus=[_metric_menu(figure, metrics, notes)])
    return style(figure, "Score vs cost")


def _score_labels(
    shown: Sequence[tuple[ModelSummary, float]],
    metric: str,
    x_range: AxisRange,
    y_range: AxisRange,
    area: tuple[float, float],
) -> list[dict[str, object]]:
    """The arms' labels for one metric, placed clear of each other, of the points and of the intervals, in a
    plot area of this size (px)."""
    means = [_mean(s, metric) or 0.0 for s, _ in shown]
    intervals = [
        (x_range.fraction(c) - 0.01, y_range.fraction(s.metrics[metric].ci_low or m))
        + (x_range.fraction(c) + 0.01, y_range.fraction(s.metrics[metric].ci_high or m))
        for (s, c), m in zip(shown, means, strict=True)
    ]
    return point_labels(
        [c for _, c in shown],
        means,
        [wrapped(s.model) for s, _ in shown],
        x_range,
        y_range,
        area=area,
        obstacles=intervals,
    )


def _metric_menu(
    figure: go.Figure, metrics: Sequence[str], notes: dict[str, list[dict[str, object]]]
) -> dict[str, object]:
    """A dropdown at the top right showing one metric's points and labels at a time (in the browser)."""
    return {
        "buttons": [
            {
                "label": metric,
                "method": "update",
                "args": [
                    {"visible": [trace.meta == metric for trace in figure.data]},
                    {"annotations": notes[metric]},
                ],
            }
            for metric in metrics
        ],
        "direction": "down",
        "x": 1,
        "xanchor": "right",
        "y": 1.16,
        "yanchor": "bottom",
        "showactive": True,
    }


def _mean(summary: ModelSummary, metric: str) -> float | None:
    found = summary.metrics.get(metric)
    return found.mean if found else None


def _interval_bars(summaries: Sequence[ModelSummary], metric: str) -> dict[str, object]:
    """Plotly error bars drawing each summary's 95% interval around its mean for `metric`."""
    means = [s.metrics[metric].mean or 0.0 for s in summaries]
    return {
        "type": "data",
        "symmetric": False,
        "array": [(s.metrics[metric].ci_high or m) - m for s, m in zip(summaries, means, strict=True)],
        "arrayminus": [m - (s.metrics[metric].ci_low or m) for s, m in zip(summaries, means, strict=True)],
        "thickness": 2,
        "width": 6,
    }


def _arm_patterns(summaries: Sequence[ModelSummary]) -> list[str]:
    """Each arm's bar pattern: solid for a model's first arm, then the next of ARM_PATTERNS."""
    seen: dict[str, int] = {}
    patterns = []
    for summary in summaries:
        index = seen.get(_model(summary), 0)
        seen[_model(summary)] = index + 1
        patterns.append(ARM_PATTERNS[index % len(ARM_PATTERNS)])
    return patterns


def metric_bars_chart(summaries: Sequence[ModelSummary], metrics: Sequence[str], colours: ColourMap) -> Chart:
    """Mean score per metric: one panel per metric, one bar per arm across, its value at its end, the arms
    named beside their bars (no legend to look up; no bar where nothing was scored)."""
    figure = make_subplots(
        rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=list(metrics), vertical_spacing=0.12
    )
    names = [wrapped(s.model) for s in summaries]  # model keys may come from users: escaped
    for row, metric in enumerate(metrics, start=1):
        means = [_mean(s, metric) for s in summaries]
        figure.add_bar(
            y=names,
            x=means,
            orientation="h",
            text=["" if m is None else f"{m:.2f}" for m in means],
            textposition="outside",
            cliponaxis=False,
            marker={
                "color": [colours.colour(_model(s)) for s in summaries],
                "pattern": {"shape": _arm_patterns(summaries)},
            },
            row=row,
            col=1,
        )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(range=[0, 1.18], tickvals=[0, 0.25, 0.5, 0.75, 1])
    figure.update_xaxes(title_text="mean score", row=len(metrics), col=1)
    figure.update_annotations(font_size=FONT_PX, x=0, xanchor="left")  # the panels' titles: metric names
    unscored = [f"{s.model} ({m})" for s in summaries for m in metrics if _mean(s, m) is None]
    per_bar = max(round(BAR_PX * 0.8), 8 + 17 * max(map(line_count, names)))  # every name's lines fit
    height = 110 + len(metrics) * (50 + per_bar * len(summaries))
    return Chart(
        "ev-bars",
        style(figure, "Mean score per metric", height=max(CHART_HEIGHT_PX, height)).update_layout(
            margin_t=80  # the chart's title, then the first panel's
        ),
        "Mean of each metric over the rows it scored, per model, from 0 to 1.",
        f"No bar, nothing scored: {', '.join(unscored)}." if unscored else "",
    )


def latency_box_chart(cells: Sequence[Cell], arms: Sequence[Arm], colours: ColourMap) -> Chart:
    """Distribution of total time per answer, per arm (failed calls left out)."""
    label = RunResult.label("total_s")
    figure = go.Figure(
        [
            go.Box(
                name=wrapped(arm.label),
                x=[
                    c.result.total_s
                    for c in cells
                    if arm.holds(c) and c.result.ok and c.result.total_s is not None
                ],
                orientation="h",
                boxpoints="all",
                pointpos=0,
                jitter=0.4,
                marker={"color": colours.colour(arm.model), "size": 7},
                line={"color": colours.colour(arm.model)},
            )
            for arm in arms
        ]
    )
    figure.update_layout(
        xaxis={"title": str(label), "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return Chart(
        "ev-latency",
        style(
            figure,
            "Latency per answer",
            height=bars_height(len(arms), max(line_count(wrapped(a.label)) for a in arms)),
        ),
        f"{label.title} of each answer (points) with its median and quartiles (box), measured by the app's "
        "runner; failed calls are left out.",
    )


def _by_model(summaries: Sequence[ModelSummary]) -> dict[str, list[ModelSummary]]:
    """Each model's arms, fewest examples first."""
    lines: dict[str, list[ModelSummary]] = {}
    for summary in sorted(summaries, key=lambda s: s.shots):
        lines.setdefault(_model(summary), []).append(summary)
    return lines


def prompt_lab_charts(summaries: Sequence[ModelSummary], metric: str) -> list[Chart | ChartNote]:
    """What examples buy (a metric against k) and what they cost (tokens, dollars, latency against k)."""
    colours = model_colours(summaries)
    charts: list[Chart | ChartNote] = [shots_score_chart(summaries, metric, colours)]
    charts += shots_cost_charts(summaries, colours)
    return charts


def shots_score_chart(summaries: Sequence[ModelSummary], metric: str, colours: ColourMap) -> Chart:
    """Mean score with its 95% interval against the number of examples, one line per model."""
    figure = go.Figure()
    for model, arms in _by_model(summaries).items():
        scored = [a for a in arms if _mean(a, metric) is not None]
        figure.add_scatter(
            name=chart_text(model),
            x=[a.shots for a in scored],
            y=[_mean(a, metric) for a in scored],
            mode="lines+markers",
            error_y=_interval_bars(scored, metric),
            marker={"size": 10, "color": colours.colour(model)},
            line={"width": 3, "color": colours.colour(model)},
        )
    figure.update_layout(
        xaxis={"title": "examples in the prompt (k)", "dtick": 1},
        yaxis={"title": f"mean {metric}", "range": [-0.05, 1.05]},
    )
    return Chart(
        "ev-lab-score",
        style(figure, f"{metric} against examples", legend=True),
        f"Mean {metric} per model after k examples ({INTERVAL}).",
    )


def shots_cost_charts(summaries: Sequence[ModelSummary], colours: ColourMap) -> list[Chart | ChartNote]:
    """Input tokens per answer, the answers' cost (priced models only) and median latency, against k; a
    line instead of the cost panel when no model has a price."""
    by_model = _by_model(summaries)
    priced = {m: arms for m, arms in by_model.items() if all(a.cost_usd is not None for a in arms)}
    panels = ["input tokens / answer", *(["cost (USD)"] if priced else []), "median latency (s)"]
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=panels, horizontal_spacing=0.1)
    for model, arms in by_model.items():
        ks, name, colour = [a.shots for a in arms], chart_text(model), colours.colour(model)
        values = [
            [a.input_tokens / a.rows if a.rows else None for a in arms],
            *([[float(a.cost_usd or 0) for a in arms]] if priced else []),
            [a.latency_p50_s for a in arms],
        ]
        for col, ys in enumerate(values, start=1):
            if panels[col - 1].startswith("cost") and model not in priced:
                continue  # no price: no line, never a line at $0
            figure.add_scatter(
                x=ks,
                y=ys,
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                mode="lines+markers",
                marker={"size": 9, "color": colour},
                line={"width": 3, "color": colour},
                row=1,
                col=col,
            )
    figure.update_xaxes(title_text="k", dtick=1)
    figure.update_annotations(font_size=15)
    local = [
        m for m, arms in by_model.items() if m not in priced and any("local" in a.cost_sources for a in arms)
    ]
    unpriced = not_priced_text(local, [m for m in by_model if m not in priced and m not in local])
    chart = Chart(
        "ev-lab-cost",
        style(figure, "What examples cost", legend=True),
        "Against the number of examples k: input tokens per answer (counted or estimated), what the answers "
        "cost, and the median time per answer.",
        f"No cost line, no price: {unpriced}." if priced and unpriced else "",
    )
    if priced:
        return [chart]
    return [chart, ChartNote("ev-lab-cost-note", f"No cost panel: no model here has a price; {unpriced}.")]
