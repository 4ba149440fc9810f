"""One comparison, shared by the CLI and the dashboard: plan, run and save it; its charts, statistics, diff, snippets and exports."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Comparison": "service",
        "open_history": "history",
        "RunHistory": "history",
        "StoredRun": "history",
        "history_url": "history",
        "StoreUnavailableError": "history",
        "CompareForm": "form",
        "LOCAL_DEFAULTS": "form",
        "Plan": "service",
        "PlannedModel": "service",
        "UsageError": "service",
        "plan_comparison": "service",
        "stored_params": "service",
        "replay_requests": "service",
        "word_diff_markdown": "diff",
        "runs_to_csv": "export",
        "runs_to_json": "export",
        "results_to_json": "export",
        "python_snippet": "snippets",
        "curl_snippet": "snippets",
        "spread_rows": "stats",
        "describe_stored_params": "service",
        "LiveRun": "live",
        "LiveSnapshot": "live",
        "live_runs": "live",
        "ExpectedTime": "timing",
        "AskPlan": "ask",
        "ASK_MODES": "ask",
        "plan_ask": "ask",
    },
)
