"""Export an evaluation: CSV with one line per cell (scores as columns), JSON with setup, summary and cells."""

from __future__ import annotations

import csv
import io
import json

from playground.core.format import spreadsheet_safe
from playground.evals.metrics import MetricChoice, normalisation_applied
from playground.evals.summary import summarize
from playground.storage.evals import StoredEval


def metric_choices(saved: StoredEval) -> list[MetricChoice]:
    """The metrics the evaluation was set up with, with their options, in order."""
    return [MetricChoice(m["name"], m.get("options", {})) for m in saved.setup["metrics"]]


def metric_names(saved: StoredEval) -> list[str]:
    """The metrics the evaluation was set up with, in order."""
    return [choice.name for choice in metric_choices(saved)]


def eval_to_csv(saved: StoredEval) -> str:
    """One line per (row, model, shots): prompt, answer, figures, and value/passed/error per metric (and,
    for a text match, the normalisation it applied)."""
    metrics = metric_names(saved)
    applied = normalisation_applied(metric_choices(saved))
    fields = [
        "row_index",
        "model",
        "shots",
        "examples",
        "prompt",
        "expected",
        "answer",
        "error",
        "total_s",
        "ttft_s",
        "queue_wait_s",
        "input_tokens",
        "output_tokens",
        "usage_source",
        "cost_usd",
        "cost_source",
    ]
    for metric in metrics:
        fields += [f"{metric}", f"{metric}_passed", f"{metric}_detail"]
        fields += [f"{metric}_normalisation"] if metric in applied else []
    fields += ["judge_cost_usd"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fields)
    writer.writeheader()
    for cell in saved.cells:
        r = cell.result
        line = {
            "row_index": cell.row_index,
            "model": cell.model,
            "shots": cell.shots,
            "examples": " ".join(str(i) for i in cell.examples),
            "prompt": cell.prompt,
            "expected": cell.expected,
            "answer": r.text,
            "error": str(r.error or ""),
            "total_s": r.total_s,
            "ttft_s": r.ttft_s,
            "queue_wait_s": r.queue_wait_s,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "usage_source": r.usage_source,
            "cost_usd": "" if r.cost_usd is None else str(r.cost_usd),
            "cost_source": r.cost_source,
            "judge_cost_usd": ""
            if not cell.judge or cell.judge.cost_usd is None
            else str(cell.judge.cost_usd),
        }
        for metric in metrics:
            score = cell.scores.get(metric)
            line[metric] = "" if score is None or score.value is None else score.value
            line[f"{metric}_passed"] = "" if score is None or score.passed is None else score.passed
            line[f"{metric}_detail"] = "" if score is None else (score.error or score.detail)
            if metric in applied:
                line[f"{metric}_normalisation"] = applied[metric]
        writer.writerow(spreadsheet_safe(line))
    return out.getvalue()


def eval_to_json(saved: StoredEval) -> str:
    """Setup, per-model summary, the normalisation each text match applied, and every cell."""
    summaries = summarize(saved.cells, saved.arms, metric_names(saved))
    return json.dumps(
        {
            "id": saved.id,
            "created_at": saved.created_at.isoformat(),
            "dataset": saved.name,
            "setup": saved.setup,
            "complete": saved.complete,
            "summary": [s.to_json() for s in summaries],
            "normalisation": normalisation_applied(metric_choices(saved)),
            "cells": [cell.to_json() for cell in saved.cells],
        },
        indent=2,
    )
