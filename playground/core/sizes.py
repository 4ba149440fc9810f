"""Size limits set in megabytes by an environment variable (datasets, documents)."""

from __future__ import annotations

import os


def megabytes_limit(variable: str, default_mb: float) -> int:
    """The limit in bytes from $`variable` (megabytes; default `default_mb`); ValueError names the variable."""
    raw = os.environ.get(variable, "")
    try:
        megabytes = float(raw) if raw.strip() else default_mb
    except ValueError as exc:
        raise ValueError(f"{variable} must be a number of megabytes, not {raw!r}") from exc
    return int(megabytes * 1_000_000)
