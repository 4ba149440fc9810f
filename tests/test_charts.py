"""The chart builders of every page: what is drawn, what stands in its place, the one colour per model, the
field labels from the one table, and point labels that do not cover each other."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from playground.catalog import catalog
from playground.catalog import charts as catalog_charts
from playground.compare import charts as compare_charts
from playground.compare import spread_rows
from playground.compare.stats import SPREAD_FIELDS
from playground.core import RESULT_LABELS, Chart, ChartNote, ColourMap, RunResult, Score, load_specs
from playground.core.chart_labels import place_labels, wrapped
from playground.core.charting import PALETTE
from playground.engine import Keyring
from playground.evals import charts as eval_charts
from playground.evals import summarize
from playground.hosting import charts as admin_charts
from playground.storage.evals import Arm, Cell


def answer(model: str, cost: str | None, total: float = 1.0, repeat: int = 0, **fields: Any) -> RunResult:
    """A finished call: priced when `cost` is given, else local (a llamacpp-like model)."""
    return RunResult(
        model=model,
        text="an answer",
        ttft_s=total / 4,
        total_s=total,
        output_tokens_per_s=40.0 / total,
        output_tokens=40,
        cost_usd=None if cost is None else Decimal(cost),
        cost_source="local" if cost is None else "override",
        repeat_index=repeat,
        **fields,
    )


def by_key(charts: Iterable[Chart | ChartNote]) -> dict[str, Chart | ChartNote]:
    return {c.key: c for c in charts}


def names_in(chart: Chart) -> set[str]:
    """The model names a figure draws (bar and box categories, scatter hover texts), line breaks removed."""
    found = set()
    for trace in chart.figure.data:
        values = list(trace.y or ()) if getattr(trace, "orientation", None) == "h" else []
        values += list(getattr(trace, "hovertext", None) or ())
        if trace.type == "box":
            values.append(trace.name)
        found |= {str(v).replace("<br>", "") for v in values if isinstance(v, str)}
    return found


# --- Compare ---------------------------------------------------------------------------------------


def test_local_models_only_get_one_line_instead_of_cost_charts():
    charts = by_key(
        compare_charts.comparison_charts([answer("smollm2-135m", None), answer("gemma3-270m", None)])
    )
    assert "chart-pareto" not in charts
    note = charts["chart-cost"]
    assert isinstance(note, ChartNote)  # a line of text, not a figure with $0 bars or an empty grid
    assert note.text == (
        "No cost charts: no model in this run has a price; smollm2-135m and gemma3-270m are local "
        "(run on this machine)."
    )
    assert isinstance(charts["chart-latency"], Chart) and isinstance(charts["chart-speed"], Chart)


def test_partly_priced_runs_draw_only_the_priced_and_name_the_others():
    results = [
        answer("cheap", "0.0001", total=0.5),
        answer("smollm2-135m", None),
        answer("dear", "0.002", total=2.0),
        replace(answer("mystery", None), cost_source="unknown"),
    ]
    charts = by_key(compare_charts.comparison_charts(results, ["cheap", "smollm2-135m", "dear", "mystery"]))
    cost, pareto = charts["chart-cost"], charts["chart-pareto"]
    assert isinstance(cost, Chart) and isinstance(pareto, Chart)
    assert names_in(cost) == names_in(pareto) == {"cheap", "dear"}
    assert [float(v) for v in cost.figure.data[0].x] == [0.0001, 0.002]
    expected = "Not drawn, no price: smollm2-135m is local (run on this machine); mystery has no known price."
    assert cost.left_out == pareto.left_out == expected
    assert cost.figure.layout.title.text == "Cost" and "prices from override" in cost.caption


def test_one_priced_model_gets_its_cost_bar_but_no_scatter_of_one_point():
    charts = by_key(
        compare_charts.comparison_charts([answer("cheap", "0.0001"), answer("smollm2-135m", None)])
    )
    assert names_in(charts["chart-cost"]) == {"cheap"}  # type: ignore[arg-type]
    assert "chart-pareto" not in charts


def test_answers_that_came_in_one_burst_get_a_line_instead_of_an_empty_speed_chart():
    burst = [replace(answer(m, "0.001"), output_tokens_per_s=None) for m in ("a", "b")]
    note = by_key(compare_charts.comparison_charts(burst))["chart-speed"]
    assert isinstance(note, ChartNote) and note.text.startswith("No decode speed chart")


def test_one_model_answering_once_gets_no_chart_but_a_line_saying_why():
    charts = compare_charts.comparison_charts([answer("smollm2-135m", None)])
    assert [type(c) for c in charts] == [ChartNote]
    assert charts[0].text.startswith("No charts for one model answering once")


def test_one_model_repeated_gets_only_the_spreads_over_its_runs():
    results = [answer("smollm2-135m", None, total=1 + i / 10, repeat=i) for i in range(3)]
    charts = compare_charts.comparison_charts(results)
    assert [c.key for c in charts] == [f"chart-box-{name}" for name in SPREAD_FIELDS]
    assert all(isinstance(c, Chart) for c in charts)


def test_titles_and_tables_take_field_labels_from_the_one_table():
    results = [answer(m, "0.001", total=1 + i / 10, repeat=i) for m in ("a", "b") for i in range(2)]
    boxes = [c for c in compare_charts.comparison_charts(results) if c.key.startswith("chart-box-")]
    for chart, name in zip(boxes, SPREAD_FIELDS, strict=True):
        label = RESULT_LABELS[name]
        assert isinstance(chart, Chart)
        assert chart.figure.layout.title.text == f"{label.title}, 2 runs"
        assert chart.figure.layout.xaxis.title.text == str(label)
        assert name not in chart.figure.layout.title.text and name not in chart.caption
    assert RESULT_LABELS["ttft_s"].title == "Time to first token"
    assert RESULT_LABELS["output_tokens_per_s"].unit == "tokens/s"
    assert {row["metric"] for row in spread_rows(results)} == {str(RESULT_LABELS[n]) for n in SPREAD_FIELDS}
    assert set(RESULT_LABELS) <= set(RunResult.__dataclass_fields__)


def colours_of(chart: Chart) -> dict[str, str]:
    """Model name → colour, for every model a figure draws."""
    found: dict[str, str] = {}
    for trace in chart.figure.data:
        colour = trace.marker.color
        if trace.type == "box":
            found[trace.name.replace("<br>", "")] = colour
        elif (
            trace.type == "bar" and getattr(trace, "orientation", None) == "h" and not isinstance(colour, str)
        ):
            for name, each in zip(trace.y, colour, strict=True):
                if trace.marker.opacity in (None, 1):  # the pale half of a latency bar is the same colour
                    found[str(name).replace("<br>", "")] = each
        elif trace.type == "scatter":
            colours = [colour] * len(trace.x) if isinstance(colour, str) else list(colour)
            for name, each in zip(trace.hovertext, colours, strict=True):
                found[name.replace("<br>", "")] = each
    return found


def test_each_model_has_one_colour_in_every_chart_of_a_run():
    models = ["m-one", "m-two", "m-three"]
    results = [
        answer(m, f"0.00{i + 1}", total=1 + i, repeat=r) for i, m in enumerate(models) for r in range(2)
    ]
    charts = [c for c in compare_charts.comparison_charts(results, models) if isinstance(c, Chart)]
    assert len(charts) == 7  # latency, speed, cost, cost vs latency, three spreads
    expected = {m: PALETTE[i] for i, m in enumerate(models)}  # in the run's order, whatever finished first
    for chart in charts:
        assert colours_of(chart) == expected, chart.key


def test_long_names_are_wrapped_and_user_markup_stays_text():
    assert wrapped("reasoning-preview-2025-long-name") == "reasoning-preview-<br>2025-long-name"
    assert wrapped("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    chart = compare_charts.comparison_charts([answer("<a href='x'>a</a>", "0.1"), answer("b", "0.2")])[0]
    assert isinstance(chart, Chart) and all("<a" not in str(v) for v in chart.figure.data[0].y)


# --- Evaluate --------------------------------------------------------------------------------------


def cells_for(models: dict[str, str | None], rows: int = 4) -> tuple[list[Cell], list[Arm]]:
    """Scored cells of `rows` rows per model (priced as given), passing every other row."""
    cells = [
        Cell(
            row_index=i,
            model=model,
            prompt="q",
            expected="a",
            result=answer(model, cost, total=1 + i / 10),
            scores={"contains": Score(float(i % 2 == 0), i % 2 == 0), "rouge_l": Score(0.5, True)},
        )
        for model, cost in models.items()
        for i in range(rows)
    ]
    return cells, [Arm(m, 0, m) for m in models]


def evaluation(models: dict[str, str | None]) -> dict[str, Chart | ChartNote]:
    cells, arms = cells_for(models)
    summaries = summarize(cells, arms, ["contains", "rouge_l"])
    return by_key(eval_charts.evaluation_charts(summaries, cells, arms, ["contains", "rouge_l"]))


def test_an_evaluation_of_local_models_has_no_score_vs_cost_chart_but_a_line():
    charts = evaluation({"smollm2-135m": None, "gemma3-270m": None})
    note = charts["ev-cost"]
    assert isinstance(note, ChartNote)
    assert note.text == (
        "No score-vs-cost chart: no model in this evaluation has a price; smollm2-135m and gemma3-270m "
        "are local (run on this machine)."
    )
    assert isinstance(charts["ev-bars"], Chart) and isinstance(charts["ev-latency"], Chart)


def test_a_partly_priced_evaluation_plots_the_priced_and_names_the_others():
    charts = evaluation({"cheap": "0.001", "smollm2-135m": None, "dear": "0.01"})
    chart = charts["ev-cost"]
    assert isinstance(chart, Chart)
    shown = [t for t in chart.figure.data if t.meta == "contains"]
    assert sorted(t.hovertext[0] for t in shown) == ["cheap", "dear"]
    assert sorted(float(t.x[0]) for t in shown) == [pytest.approx(0.004), pytest.approx(0.04)]  # 4 rows each
    assert chart.left_out == "Not drawn, no price: smollm2-135m is local (run on this machine)."
    menu = chart.figure.layout.updatemenus[0]  # one metric at a time, labels with it
    assert [b.label for b in menu.buttons] == ["contains", "rouge_l"]
    assert all(len(b.args[1]["annotations"]) == 2 for b in menu.buttons)


def test_an_evaluation_with_one_model_has_no_score_vs_cost_chart():
    charts = evaluation({"cheap": "0.001"})
    assert list(charts) == ["ev-bars", "ev-latency"]


def test_an_evaluation_colours_each_model_alike_in_every_chart():
    charts = evaluation({"cheap": "0.001", "smollm2-135m": None, "dear": "0.01"})
    bars, latency, cost = charts["ev-bars"], charts["ev-latency"], charts["ev-cost"]
    assert isinstance(bars, Chart) and isinstance(latency, Chart) and isinstance(cost, Chart)
    expected = {"cheap": PALETTE[0], "smollm2-135m": PALETTE[1], "dear": PALETTE[2]}
    assert len(bars.figure.data) == 2 and colours_of(bars) == expected  # a panel per metric
    assert colours_of(latency) == expected
    assert colours_of(cost) == {k: v for k, v in expected.items() if k != "smollm2-135m"}


# --- Catalog and admin -----------------------------------------------------------------------------


def entries(only: str) -> list:
    """Catalog entries of these built-in models (keys apart by spaces), no key set."""
    listed = catalog(load_specs(), Keyring(visitor={}, server={}, egress=None, hosted=False))
    return [e for e in listed if e.key in only.split()]


def test_a_catalog_of_local_models_gets_a_line_instead_of_a_price_chart():
    charts = by_key(catalog_charts.catalog_charts(entries("smollm2-135m gemma3-270m wordllama-256")))
    note = charts["cat-price-chart"]
    assert isinstance(note, ChartNote) and note.text.startswith(
        "No price chart: no model in view has a price"
    )
    assert "smollm2-135m" in note.text and "are local" in note.text


def test_models_at_the_same_prices_share_one_point_and_one_label():
    shown = entries("gpt-4o-mini azure-gpt-4o-mini gpt-4.1-mini smollm2-135m")
    chart = by_key(catalog_charts.catalog_charts(shown))["cat-price-chart"]
    assert isinstance(chart, Chart)
    texts = [a.text for a in chart.figure.layout.annotations]
    assert len(chart.figure.data[0].x) == 2 == len(texts)  # gpt-4o-mini and its Azure twin: one point
    assert any("gpt-4o-mini" in t and "azure-gpt-4o-mini" in t for t in texts)
    assert chart.left_out == "Not drawn, no price: smollm2-135m is local (run on this machine)."


def test_one_model_in_view_needs_no_catalog_chart():
    assert catalog_charts.catalog_charts(entries("smollm2-135m")) == []


def test_the_admin_chart_colours_users_from_the_shared_palette():
    rows = [
        {"owner": owner, "user": owner, "day": "2026-11-29", "spend (USD)": Decimal("1")}
        for owner in ("iss|a", "iss|b")
    ]
    figure = admin_charts.spend_per_day_figure(rows)
    assert [t.marker.color for t in figure.data] == list(PALETTE[:2])
    assert figure.layout.title.text == "Spend per day"


# --- Label placement -------------------------------------------------------------------------------


def boxes(points, labels, places, area=(290, 230)):  # noqa: ANN001, ANN201 - test helper
    """Each label's box in px, as the placer sizes it."""
    from playground.core.chart_labels import _label_size

    found = []
    for (fx, fy), label, place in zip(points, labels, places, strict=True):
        width, height = _label_size(label)
        x, y = fx * area[0] + place.dx, fy * area[1] + place.dy
        found.append((x - width / 2, y - height / 2, x + width / 2, y + height / 2))
    return found


def test_labels_of_close_points_do_not_cover_each_other_or_leave_the_plot():
    points = [(0.05, 0.05), (0.08, 0.06), (0.1, 0.04), (0.9, 0.9), (0.92, 0.88)]
    labels = ["gpt-4o-mini", "azure-gpt-4o-mini", "fast-mini", "reasoning-<br>preview", "large-pro"]
    placed = boxes(points, labels, place_labels(points, labels, (290, 230)))
    for i, a in enumerate(placed):
        assert -2 <= a[0] and a[2] <= 292 and -2 <= a[1] and a[3] <= 232, (labels[i], a)
        for j, b in enumerate(placed[i + 1 :], start=i + 1):
            overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
            assert not overlap, (labels[i], labels[j])


def test_colour_map_keeps_first_seen_order_and_greys_strangers():
    colours = ColourMap.of(["b", "a", "b"])
    assert colours.keys == ("b", "a")
    assert colours.colours(["a", "b", "zzz"]) == [PALETTE[1], PALETTE[0], "#8C8C8C"]
