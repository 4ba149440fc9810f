"""Human labels for measured figures, each with its source; shared by the CLI and the dashboard."""

from __future__ import annotations

import re
from decimal import Decimal

from playground.core.results import LENGTH_ENFORCED, RunResult


def seconds(value: float | None) -> str:
    """'0.42 s' or 'n/a'."""
    return "n/a" if value is None else f"{value:.2f} s"


def money(value: Decimal | None, source: str) -> str:
    """'$0.000123 (genai-prices:2026-11-03)', 'local', or 'unknown'."""
    if value is None:
        return "local (no price)" if source == "local" else f"n/a ({source})"
    return f"${value:.6f} ({source})"


def tokens(result: RunResult) -> str:
    """'12 in / 40 out (counted)'."""
    if result.input_tokens is None and result.output_tokens is None:
        return "tokens n/a"
    return f"{result.input_tokens} in / {result.output_tokens} out ({result.usage_source})"


def speed(value: float | None) -> str:
    """'85.3 tok/s' or 'n/a'."""
    return "n/a" if value is None else f"{value:.1f} tok/s"


def metrics_line(result: RunResult) -> str:
    """One line of every figure for a finished call."""
    parts = [
        f"TTFT {seconds(result.ttft_s)}",
        f"total {seconds(result.total_s)}",
        speed(result.output_tokens_per_s),
        tokens(result),
        money(result.cost_usd, result.cost_source),
    ]
    if result.queue_wait_s is not None and result.queue_wait_s >= 0.05:
        parts.append(f"queued {seconds(result.queue_wait_s)} (not in TTFT)")
    if result.attempts > 1:
        parts.append(f"{result.attempts} attempts")
    if result.finish_reason == LENGTH_ENFORCED:
        parts.append(
            "cut by the playground: the server went past max tokens, and the call is charged at most its "
            "admitted maximum"
        )
    elif result.finish_reason:
        parts.append(f"finish: {result.finish_reason}")
    return " · ".join(parts)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A formula character right after a tab, semicolon or comma inside a value (spaces between allowed): a
# spreadsheet that splits cells on that character, or a user who splits the cell, starts a cell with it.
_FORMULA_AFTER_SEPARATOR = re.compile(r"([\t;,][ ]*)([=+\-@])")


def spreadsheet_safe(row: dict[str, object]) -> dict[str, object]:
    """A CSV row that opens as text in a spreadsheet: a text cell that would start a formula
    (=HYPERLINK(...), +cmd|..., @SUM(...)) gets a leading apostrophe, as OWASP's CSV-injection advice says,
    and so does a formula character after a tab, ';' or ',' inside it ("hello\t=1+1" becomes
    "hello\t'=1+1"), which would start a cell once split there. Numbers are left as they are (a negative
    number is not a formula)."""
    return {k: _safe_cell(v) if isinstance(v, str) else v for k, v in row.items()}


def _safe_cell(text: str) -> str:
    text = _FORMULA_AFTER_SEPARATOR.sub(r"\1'\2", text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def set_cost_cell(cost: Decimal | None, source: str) -> str:
    """A whole set's cost as a table cell: local models cost nothing to call (never $0), unknown ones say
    so, and a known cost names its price source."""
    if source == "local":
        return "local"
    return f"unknown ({source})" if cost is None else f"{cost} ({source})"
