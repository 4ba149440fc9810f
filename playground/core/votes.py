"""One arena vote between two models, in the vote-log format the public Chatbot Arena logs use (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Winner = Literal["model_a", "model_b", "tie", "tie (bothbad)"]
# The four outcomes a vote can have, as the vote log spells them (the Chatbot Arena logs' own values).
WINNERS: tuple[Winner, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")
TIES: tuple[Winner, ...] = ("tie", "tie (bothbad)")


@dataclass(frozen=True)
class Vote:
    """One vote: `model_a` against `model_b`, and which won (or a tie; "tie (bothbad)": both answers bad).

    `judge` says who voted (an opaque participant id in this app's exports), `tstamp` when (Unix seconds)."""

    model_a: str
    model_b: str
    winner: Winner
    judge: str | None = None
    tstamp: float | None = None

    def to_json(self) -> dict[str, Any]:
        """One line of a vote log (the optional fields only when known)."""
        data: dict[str, Any] = {"model_a": self.model_a, "model_b": self.model_b, "winner": self.winner}
        if self.judge is not None:
            data["judge"] = self.judge
        if self.tstamp is not None:
            data["tstamp"] = self.tstamp
        return data
