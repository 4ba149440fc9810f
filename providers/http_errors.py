"""Helpers shared by the HTTP adapters to turn an error body into one short readable line."""

from __future__ import annotations

import json
import re
from http import HTTPStatus

_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX = 300


def short_body(body: object) -> str:
    """One line from an error body: the JSON error message, an HTML page's title, or the text cut short."""
    if body is None:
        return ""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return _cut(str(error.get("message") or error.get("detail") or json.dumps(error)))
        return _cut(str(error))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return short_body(json.loads(stripped))
        except ValueError:
            pass
    if "<html" in stripped.lower() or "<!doctype" in stripped.lower():
        title = _TITLE.search(stripped)
        shown = title.group(1) if title else _TAG.sub(" ", stripped)
        return _cut("HTML page: " + " ".join(shown.split()))
    return _cut(" ".join(stripped.split()))


def body_or_reason(body: object, status: int, show_body: bool) -> str:
    """What an error says about a response: a line of its body, or (for a URL a visitor supplied, whose
    body could be anything the server can reach) only the status's standard reason."""
    if show_body:
        return short_body(body)
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "unknown status"
    return f"{reason} (the body of an error from a URL you supplied is not shown)"


def _cut(text: str) -> str:
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"
