"""Hosted mode's services: admitting a run under a user's limits and budget, and the admin's usage report."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Ask": "gate",
        "Gate": "gate",
        "default_gate": "gate",
        "Ticket": "gate",
        "Bill": "billing",
        "LimitExceededError": "gate",
        "RunsGoingError": "gate",
        "UsageReport": "report",
        "usage_report": "report",
        "hardening_problems": "hardening",
        "REQUIRED_OPTIONS": "hardening",
        "CHECKED_OPTIONS": "hardening",
        "effective_limits": "report",
        "MONEY_COLUMNS": "report",
    },
)
