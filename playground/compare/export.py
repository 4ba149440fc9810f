"""Export stored runs as CSV (one row per result) and JSON (runs with their results)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from playground.core.format import spreadsheet_safe
from playground.core.results import RunResult

if TYPE_CHECKING:  # a first page load imports the export of unsaved answers, and no database library
    from playground.storage.runs import StoredRun

CSV_FIELDS = (
    "run_id",
    "created_at",
    "prompt",
    "model",
    "repeat_index",
    "text",
    "ttft_s",
    "total_s",
    "queue_wait_s",
    "output_tokens_per_s",
    "input_tokens",
    "output_tokens",
    "usage_source",
    "cost_usd",
    "cost_source",
    "finish_reason",
    "attempts",
    "error_kind",
    "error_message",
)


def runs_to_json(runs: Sequence[StoredRun]) -> str:
    """Runs and their results as a JSON document (cost as strings)."""
    return json.dumps(
        [
            {
                "id": run.id,
                "created_at": run.created_at.isoformat(),
                "prompt": run.prompt,
                "system": run.system,
                "params": run.params,
                "models": run.models,
                "results": [r.to_json() for r in run.results],
            }
            for run in runs
        ],
        indent=2,
    )


def runs_to_csv(runs: Sequence[StoredRun]) -> str:
    """One CSV row per result."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for run in runs:
        for result in run.results:
            row = result.to_json()
            error = row.pop("error") or {}
            writer.writerow(
                spreadsheet_safe(
                    {
                        **{k: v for k, v in row.items() if k in CSV_FIELDS},
                        "run_id": run.id,
                        "created_at": run.created_at.isoformat(),
                        "prompt": run.prompt,
                        "error_kind": error.get("kind"),
                        "error_message": error.get("message"),
                    }
                )
            )
    return buffer.getvalue()


def results_to_json(results: Sequence[RunResult]) -> str:
    """Results of one run as a JSON document (answers the database has not confirmed, say)."""
    return json.dumps([r.to_json() for r in results], indent=2)
