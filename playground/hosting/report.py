"""The admin's usage report: spend per user, per model and per day, and calls and errors per model.

Read from the usage ledger, where every call's cost is recorded as it is saved (runs, evaluation
answers and judge calls alike)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playground.storage.runs import Store, UsageRecord


@dataclass(frozen=True)
class UsageReport:
    """Usage over the last `days` days (UTC), aggregated from the ledger."""

    since: datetime
    records: list[UsageRecord]

    def spend_by(self, *fields: str) -> list[dict[str, object]]:
        """Runs, calls, errors and known spend per value of `fields` (owner, model, day), biggest spend first."""
        groups: dict[tuple[str, ...], list[UsageRecord]] = defaultdict(list)
        for record in self.records:
            groups[tuple(_field(record, name) for name in fields)].append(record)
        rows = [
            {
                **dict(zip(fields, key, strict=True)),
                "runs": len({(r.kind == "run", r.ref_id) for r in records}),  # comparisons and evaluations
                "calls": len(records),
                "errors": sum(1 for r in records if r.error_kind),
                "spend (USD)": sum((r.cost_usd for r in records if r.cost_usd is not None), Decimal(0)),
                "calls of unknown price": sum(
                    1 for r in records if r.cost_usd is None and r.cost_source != "local"
                ),
            }
            for key, records in groups.items()
        ]
        return sorted(rows, key=lambda row: (-row["spend (USD)"], *(str(row[f]) for f in fields)))

    @property
    def total_usd(self) -> Decimal:
        """Known spend over the whole period."""
        return sum((r.cost_usd for r in self.records if r.cost_usd is not None), Decimal(0))


def _field(record: UsageRecord, name: str) -> str:
    if name == "day":
        return record.at.astimezone(UTC).date().isoformat()
    return str(getattr(record, name))


def usage_report(store: Store, days: int = 30) -> UsageReport:
    """The ledger's last `days` days (today included)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    return UsageReport(since, store.usage_since(since))
