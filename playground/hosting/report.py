"""The admin's usage report: spend per user, per model and per day, and calls and errors per model.

Read from the usage ledger, where every call's cost is recorded as it is saved (runs, evaluation
answers, judge calls and embedding calls alike)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from playground.core.policy import (
    ALLOW_UNPRICED_ENV,
    ALLOWED_HOSTS_ENV,
    DAILY_USD_ENV,
    LIMIT_SETTINGS,
    HostedPolicy,
    day_start,
)

if TYPE_CHECKING:
    from playground.storage.runs import Store, UsageRecord


# The report's money columns: known spend, and what calls cost beyond their admitted maximum.
SPEND, OVER_ADMISSION = "spend (USD)", "over-admission (USD)"
MONEY_COLUMNS = (SPEND, OVER_ADMISSION)


@dataclass(frozen=True)
class UsageReport:
    """Usage over the last `days` days (UTC), aggregated from the ledger."""

    since: datetime
    records: list[UsageRecord]
    names: dict[str, str]  # owner id -> who (users seen at sign-in)

    def spend_by(self, *fields: str) -> list[dict[str, object]]:
        """Runs, calls, errors and known spend per value of `fields` (owner, model, day), biggest spend first."""
        groups: dict[tuple[str, ...], list[UsageRecord]] = defaultdict(list)
        for record in self.records:
            groups[tuple(_field(record, name) for name in fields)].append(record)
        rows = [
            {
                **({"user": self.names.get(key[fields.index("owner")], "")} if "owner" in fields else {}),
                **dict(zip(fields, key, strict=True)),
                # Comparisons and evaluations (an embedding's calls are for a collection, not a run).
                "runs": len({(r.kind == "run", r.ref_id) for r in records if r.kind != "embed"}),
                "calls": len(records),
                "errors": sum(1 for r in records if r.error_kind),
                SPEND: sum((r.cost_usd for r in records if r.cost_usd is not None), Decimal(0)),
                "calls of unknown price": sum(
                    1 for r in records if r.cost_usd is None and r.cost_source != "local"
                ),
                OVER_ADMISSION: sum((r.over_admission_usd for r in records), Decimal(0)),
            }
            for key, records in groups.items()
        ]
        return sorted(rows, key=lambda row: (-row[SPEND], *(str(row[f]) for f in fields)))

    @property
    def total_usd(self) -> Decimal:
        """Known spend over the whole period."""
        return sum((r.cost_usd for r in self.records if r.cost_usd is not None), Decimal(0))

    @property
    def over_admission_usd(self) -> Decimal:
        """What calls cost beyond their admitted maximum over the period (usage reports larger than the
        estimate the budget check reserved): money the daily limits could not hold back."""
        return sum((r.over_admission_usd for r in self.records), Decimal(0))


def _field(record: UsageRecord, name: str) -> str:
    if name == "day":  # the ledger's times are UTC; SQLite hands them back without a zone
        at = record.at if record.at.tzinfo is not None else record.at.replace(tzinfo=UTC)
        return at.astimezone(UTC).date().isoformat()
    return str(getattr(record, name))


def usage_report(store: Store, days: int = 30) -> UsageReport:
    """The ledger's last `days` days (today included)."""
    since = day_start() - timedelta(days=days - 1)
    return UsageReport(since, store.usage_since(since), store.user_names())


def effective_limits(policy: HostedPolicy, upload_mb: object) -> list[dict[str, str]]:
    """Every limit in force on this server, with its value and the setting that sets it (the admin page)."""
    limits = policy.limits
    rows = [
        {"limit": setting.meaning, "value": str(getattr(limits, name)), "set by": setting.env}
        for name, setting in LIMIT_SETTINGS.items()
    ]
    daily = str(limits.daily_usd) if limits.daily_usd is not None else "no cap"
    unpriced = ", ".join(sorted(limits.unpriced_allowed)) or "none"
    hosts = ", ".join(sorted(policy.allowed_endpoint_hosts)) or "none (user URLs are off)"
    return rows + [
        {"limit": "daily spend per user (USD)", "value": daily, "set by": DAILY_USD_ENV},
        {"limit": "models allowed without a known price", "value": unpriced, "set by": ALLOW_UNPRICED_ENV},
        {"limit": "hosts users may add endpoints on", "value": hosts, "set by": ALLOWED_HOSTS_ENV},
        {"limit": "upload size (MB)", "value": str(upload_mb), "set by": "server.maxUploadSize"},
    ]
