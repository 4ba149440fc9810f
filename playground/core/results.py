"""RunResult: the measured outcome of one call, and its JSON form."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_RUN_ID = re.compile(r"[0-9a-f]{32}")


# finish_reason of a hosted answer the playground cut at its max tokens: the server sent more than asked
# (it ignored max_tokens), and the call is charged at most what was admitted.
LENGTH_ENFORCED = "length_enforced"


def is_run_id(value: str) -> bool:
    """True for a run id's own format (a uuid4 in hex): a share link's `?run=` value is checked first."""
    return bool(_RUN_ID.fullmatch(value))


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class CallError:
    """Why a call did not answer: a stable machine `kind` (timeout, crashed, cancelled, auth, ...) and a
    message for people. `str()` is the one way it is written out."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def to_json(self) -> dict[str, str]:
        """{"kind", "message"}: the JSON form (exports, --json, stored evaluation cells)."""
        return {"kind": self.kind, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, str] | None) -> CallError | None:
        """Inverse of to_json (None stays None)."""
        return None if data is None else cls(data["kind"], data.get("message") or "")


@dataclass(frozen=True)
class FieldLabel:
    """How people see one measured field: its name and unit, e.g. "time to first token" in "s"."""

    name: str
    unit: str

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"

    @property
    def title(self) -> str:
        """The name with a capital first letter, for a chart's title or a table's heading."""
        return self.name[:1].upper() + self.name[1:]


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
    error: CallError | None = None
    run_id: str | None = None
    started_at: str = field(default_factory=utc_now_iso)
    repeat_index: int = 0
    queue_wait_s: float | None = None  # local models: time waiting for calls ahead (not latency)
    # The most this call was admitted to cost: its pre-run estimate at the request's max tokens (None: no
    # price). A reported cost above it is kept as reported; the admin sees the difference.
    max_cost_usd: Decimal | None = None

    @staticmethod
    def label(field_name: str) -> FieldLabel:
        """The human label of one of the measured fields (RESULT_LABELS); KeyError for any other."""
        return RESULT_LABELS[field_name]

    @property
    def ok(self) -> bool:
        """True when the model answered without error (a cancelled run is not ok)."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict; cost as a string so no precision is lost."""
        data = asdict(self)
        for name in MONEY_FIELDS:
            data[name] = None if data[name] is None else str(data[name])
        data["error"] = None if self.error is None else self.error.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        """Inverse of to_json."""
        values = dict(data)
        for name in MONEY_FIELDS:
            if values.get(name) is not None:
                values[name] = Decimal(values[name])
        values["error"] = CallError.from_json(values.get("error"))
        return cls(**values)


# RunResult's Decimal fields: strings in JSON and in the database, so no precision is lost.
MONEY_FIELDS = ("cost_usd", "max_cost_usd")

# The one table of how RunResult's measured fields are shown (charts, tables, exports): beside the fields,
# so a new figure gets its label where it is defined.
RESULT_LABELS: dict[str, FieldLabel] = {
    "ttft_s": FieldLabel("time to first token", "s"),
    "total_s": FieldLabel("total time", "s"),
    "output_tokens_per_s": FieldLabel("decode speed", "tokens/s"),
    "input_tokens": FieldLabel("input tokens", "tokens"),
    "output_tokens": FieldLabel("output tokens", "tokens"),
    "cost_usd": FieldLabel("cost", "USD"),
    "queue_wait_s": FieldLabel("queue wait", "s"),
}
