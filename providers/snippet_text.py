"""Text helpers for the adapters' "View code" snippets."""

from __future__ import annotations

import json
from typing import Any


def kwargs_text(values: dict[str, Any], indent: str = "    ") -> str:
    """`name=value,` lines for a Python call."""
    return "".join(f"{indent}{k}={v!r},\n" for k, v in values.items())


def curl_text(url: str, auth: str, payload: dict[str, Any]) -> str:
    """A curl command posting `payload` as JSON (single quotes escaped for the shell)."""
    body = json.dumps(payload, indent=2).replace("'", "'\\''")
    return f'curl "{url}" \\\n  -H "Content-Type: application/json" {auth} \\\n  -d \'{body}\'\n'
