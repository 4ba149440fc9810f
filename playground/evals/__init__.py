"""Evaluation on your data: datasets, templates, metrics, the judge, the runner with resume, the summary with intervals, charts, views and exports."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Dataset": "datasets",
        "DatasetError": "datasets",
        "load_sample": "datasets",
        "parse_dataset": "datasets",
        "sample_names": "datasets",
        "sample_preset": "datasets",
        "Preset": "datasets",
        "Evaluation": "runner",
        "evaluation_store": "history",
        "EvaluationStore": "history",
        "StoredEval": "history",
        "EvalSetup": "runner",
        "EVAL_PARAMS": "runner",
        "METRICS": "metrics",
        "JUDGE": "metrics",
        "MetricChoice": "metrics",
        "DEFAULT_RUBRIC": "judge",
        "reading": "summary",
        "summarize": "summary",
        "cells_of_row": "view",
        "matrix_rows": "view",
        "score_mark": "view",
        "summary_rows": "view",
        "eval_to_csv": "export",
        "eval_to_json": "export",
        "metric_names": "export",
    },
)
