"""The score of one metric on one answer (evaluations compute it; storage keeps it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    """One metric on one answer; `error` set means it could not be scored (not a zero)."""

    value: float | None
    passed: bool | None
    detail: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "passed": self.passed, "detail": self.detail, "error": self.error}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Score:
        """Inverse of to_json."""
        return cls(data.get("value"), data.get("passed"), data.get("detail", ""), data.get("error"))
