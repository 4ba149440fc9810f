"""RunResult: the measured outcome of one call, and its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class RunResult:
    """One model's answer to one request, with every figure labelled by its source."""

    model: str
    text: str = ""
    ttft_s: float | None = None  # from the start of this call's generation (after any queue wait)
    total_s: float | None = None
    output_tokens_per_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_source: str | None = None  # reported | counted | estimated:<encoding>
    cost_usd: Decimal | None = None
    cost_source: str = "unknown"  # override | genai-prices:<date> | local | unknown
    finish_reason: str | None = None
    attempts: int = 0
    error: dict[str, str] | None = None  # {"kind": ..., "message": ...}
    run_id: str | None = None
    started_at: str = field(default_factory=utc_now_iso)
    repeat_index: int = 0
    queue_wait_s: float | None = None  # local models: time waiting for calls ahead (not latency)

    @property
    def ok(self) -> bool:
        """True when the model answered without error (a cancelled run is not ok)."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict; cost as a string so no precision is lost."""
        data = asdict(self)
        data["cost_usd"] = None if self.cost_usd is None else str(self.cost_usd)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        """Inverse of to_json."""
        values = dict(data)
        if values.get("cost_usd") is not None:
            values["cost_usd"] = Decimal(values["cost_usd"])
        return cls(**values)
