"""An arena's votes as CSV (safe to open in a spreadsheet) and as a JSON Lines vote log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from playground.core.format import spreadsheet_safe
from playground.storage.arena import StoredArena, StoredVote

CSV_FIELDS = ("arena", "battle_id", "voted_at", "judge", "model_a", "model_b", "winner", "turns", "prompt")


def _row(arena: StoredArena, vote: StoredVote) -> dict[str, object]:
    """One vote with its battle: `judge` is the participant's opaque id, never their name."""
    return {
        "arena": arena.name,
        "battle_id": vote.battle_id,
        "voted_at": vote.voted_at.isoformat(),
        "judge": vote.participant_id,
        "model_a": vote.model_a,
        "model_b": vote.model_b,
        "winner": vote.winner,
        "turns": vote.turns,
        "prompt": vote.first_prompt,
    }


def votes_to_csv(arena: StoredArena, votes: Sequence[StoredVote]) -> str:
    """One CSV row per vote; a text cell that a spreadsheet would take for a formula starts with ', and
    every cell is quoted, so a spreadsheet that splits on tabs or semicolons keeps a prompt in one cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for vote in votes:
        writer.writerow(spreadsheet_safe(_row(arena, vote)))
    return buffer.getvalue()


def votes_to_jsonl(arena: StoredArena, votes: Sequence[StoredVote]) -> str:
    """One JSON object per vote: the vote-log fields (model_a, model_b, winner, judge, tstamp) that
    `playground arena ratings` reads, and the battle's own fields beside them."""
    lines = []
    for vote in votes:
        row = _row(arena, vote)
        lines.append(json.dumps({**vote.as_vote().to_json(), **row}))
    return "".join(line + "\n" for line in lines)
