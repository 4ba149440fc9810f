"""Vote logs: one JSON object per line with model_a, model_b, winner and optional judge and tstamp.

The format of the public Chatbot Arena vote logs: their other fields (turn, anony, language, …) are
ignored, and a log published as one JSON array (as clean_battle_*.json is) is read too. `winner` is one
of model_a, model_b, tie, tie (bothbad). A line that is not such an object is refused with the file and
line, and nothing is computed from a log with a bad line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from playground.core.errors import UsageError
from playground.core.votes import WINNERS, Vote


class VoteLogError(UsageError):
    """A vote log that cannot be read: the message names the file and the line (or array item)."""


def read_vote_log(path: Path) -> list[Vote]:
    """Every vote of a log file (JSON Lines, or one JSON array); VoteLogError names a bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VoteLogError(f"{path}: cannot read it ({exc})") from exc
    return parse_vote_log(text, str(path))


def parse_vote_log(text: str, source: str) -> list[Vote]:
    """The votes in a log's text; `source` names it in errors."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VoteLogError(f"{source} line {exc.lineno}: not valid JSON ({exc.msg})") from exc
        return [_vote(item, f"{source} item {number}") for number, item in enumerate(items, 1)]
    return [_vote(item, where) for item, where in _lines(text, source)]


def _lines(text: str, source: str) -> Iterable[tuple[Any, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            yield json.loads(line), where
        except json.JSONDecodeError as exc:
            raise VoteLogError(f"{where}: not valid JSON ({exc.msg})") from exc


def _vote(item: Any, where: str) -> Vote:
    if not isinstance(item, dict):
        raise VoteLogError(f"{where}: expected a JSON object with model_a, model_b and winner")
    models = [item.get("model_a"), item.get("model_b")]
    for name, value in zip(("model_a", "model_b"), models, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise VoteLogError(f"{where}: {name} must be a model name (a non-empty string)")
    if models[0] == models[1]:
        raise VoteLogError(f"{where}: model_a and model_b are the same model ({models[0]})")
    winner = item.get("winner")
    if winner not in WINNERS:
        raise VoteLogError(f"{where}: winner {winner!r} is not one of {', '.join(WINNERS)}")
    judge, tstamp = item.get("judge"), item.get("tstamp")
    if judge is not None and not isinstance(judge, str | int):
        raise VoteLogError(f"{where}: judge must be a string")
    if tstamp is not None and (isinstance(tstamp, bool) or not isinstance(tstamp, int | float)):
        raise VoteLogError(f"{where}: tstamp must be a number (Unix seconds)")
    return Vote(models[0], models[1], winner, None if judge is None else str(judge), tstamp)


def vote_log(votes: Sequence[Vote]) -> str:
    """Votes as a JSON Lines vote log (what `playground arena ratings` reads)."""
    return "".join(json.dumps(v.to_json()) + "\n" for v in votes)
