"""Types and values with no I/O: model specs, sampling parameters, the result of one call, and the labels its figures are shown with."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "ModelSpec": "specs",
        "SpecError": "specs",
        "load_specs": "specs",
        "with_overrides": "specs",
        "PROVIDERS": "specs",
        "TASKS": "specs",
        "STAGES": "specs",
        "BUILTIN_SOURCE": "specs",
        "EndpointError": "specs",
        "custom_endpoint_spec": "specs",
        "RunResult": "results",
        "Score": "scores",
        "Spread": "stats",
        "spread": "stats",
        "UsageError": "errors",
        "CallError": "results",
        "utc_now_iso": "results",
        "Params": "params",
        "PARAM_NAMES": "params",
        "DEFAULT_MAX_TOKENS": "params",
        "OVERRIDE_LIMITS": "params",
        "overrides_from_rows": "params",
        "build_request": "params",
        "metrics_line": "format",
        "money": "format",
        "seconds": "format",
        "speed": "format",
        "tokens": "format",
    },
)
