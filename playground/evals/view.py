"""Tables for showing an evaluation: the per-model summary and the rows × models matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from playground.evals.export import metric_choices
from playground.evals.metrics import Score, normalisation_applied
from playground.evals.summary import ModelSummary
from playground.storage.evals import Arm, Cell, StoredEval


def summary_rows(summaries: Sequence[ModelSummary], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per model: mean [95% interval] and pass rate per metric, errors, latency, tokens, cost."""
    rows = []
    for s in summaries:
        row: dict[str, Any] = {"model": s.model, "rows": s.rows, "call errors": s.errors}
        for name in metrics:
            m = s.metrics[name]
            if m.mean is None:
                row[name] = "n/a"
            else:
                interval = f" [{m.ci_low:.2f}–{m.ci_high:.2f}]" if m.ci_low is not None else ""
                row[name] = f"{m.mean:.2f}{interval}"
            row[f"{name} pass"] = "n/a" if m.pass_rate is None else f"{m.pass_rate:.0%}"
            if m.errors:
                row[f"{name} errors"] = m.errors
        row["p50 s"] = "n/a" if s.latency_p50_s is None else round(s.latency_p50_s, 3)
        row["p90 s"] = "n/a" if s.latency_p90_s is None else round(s.latency_p90_s, 3)
        row["tokens in/out"] = f"{s.input_tokens}/{s.output_tokens}"
        if s.cost_sources == ("local",):
            row["cost USD"] = "local"
        else:
            row["cost USD"] = "unknown" if s.cost_usd is None else str(s.cost_usd)
        if s.judge_cost_usd is not None:
            row["judge USD"] = str(s.judge_cost_usd)
        rows.append(row)
    return rows


def normalisation_notes(saved: StoredEval) -> list[str]:
    """One line per text-matching metric naming the normalisation its scores were computed with:
    'quasi_exact_match: case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored'."""
    return [f"{name}: {words}" for name, words in normalisation_applied(metric_choices(saved)).items()]


def score_mark(score: Score | None) -> str:
    """A score as a short cell: ✓/✗ with the value, or the error."""
    if score is None:
        return ""
    if score.error:
        return "error"
    mark = {True: "✓", False: "✗", None: ""}[score.passed]
    return f"{mark} {score.value:.2f}" if score.value is not None else mark


def matrix_rows(saved: StoredEval, metric: str, preview_chars: int = 60) -> list[dict[str, Any]]:
    """Rows × arms: each cell shows one metric's mark, "call error", or "not run" (resume fills it)."""
    by_key = {(c.row_index, c.model, c.shots, c.rag): c for c in saved.cells}
    rows = []
    for index, data in enumerate(saved.dataset["rows"]):
        line: dict[str, Any] = {
            "row": index + 1,
            "input": " · ".join(str(v) for v in data.values())[:preview_chars],
        }
        for arm in saved.arms:
            cell = by_key.get((index, *arm.key))
            if cell is None:
                line[arm.label] = "not run"
            elif not cell.result.ok:
                line[arm.label] = f"call error ({cell.result.error.kind if cell.result.error else None})"
            else:
                line[arm.label] = score_mark(cell.scores.get(metric))
        rows.append(line)
    return rows


def cells_of_row(saved: StoredEval, row_index: int) -> list[tuple[Arm, Cell]]:
    """Every arm's cell for one dataset row (with the arm, for its label), in the evaluation's order."""
    mine = {(c.model, c.shots, c.rag): c for c in saved.cells if c.row_index == row_index}
    return [(arm, mine[arm.key]) for arm in saved.arms if arm.key in mine]


def sent_text(cell: Cell) -> str:
    """The prompt a cell sent, examples included, as plain text: one block per chat message."""
    if cell.sent is None:
        return cell.prompt  # saved before the sent prompt was kept: zero-shot, its prompt as filled
    if "text" in cell.sent:
        return str(cell.sent["text"])
    return "\n\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in cell.sent.get("messages", []))
