"""The run history as the pages and the CLI open it: where it lives, and a store ready to use.

Imported on first use (SQLAlchemy comes with it), never on a first page load."""

from __future__ import annotations

from playground.storage.runs import Store as RunHistory
from playground.storage.runs import StoredRun, StoreUnavailableError, default_db_url

__all__ = ["RunHistory", "StoredRun", "StoreUnavailableError", "history_url", "open_history"]


def history_url() -> str:
    """$PLAYGROUND_DB, else a SQLite file under the user's data directory."""
    return default_db_url()


def open_history(url: str | None = None) -> RunHistory:
    """The run history at `url` (default: history_url()), migrated to the newest schema."""
    return RunHistory(url or history_url())
