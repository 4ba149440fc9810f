"""Text helpers for the adapters' "View code" snippets."""

from __future__ import annotations

import json
import shlex
from typing import Any


def kwargs_text(values: dict[str, Any], indent: str = "    ") -> str:
    """`name=value,` lines for a Python call."""
    return "".join(f"{indent}{k}={v!r},\n" for k, v in values.items())


def curl_text(url: str, auth: str, payload: dict[str, Any], *, base_env: str | None = None) -> str:
    """A curl command posting `payload` as JSON to `url` (after the value of $`base_env`, when given).

    The URL is quoted for the shell: a base URL someone typed, holding `$(…)` or backquotes, is pasted
    as text, never run."""
    body = json.dumps(payload, indent=2).replace("'", "'\\''")
    where = (f'"${base_env}"' if base_env else "") + shlex.quote(url)
    return f"curl {where} \\\n  -H \"Content-Type: application/json\" {auth} \\\n  -d '{body}'\n"
