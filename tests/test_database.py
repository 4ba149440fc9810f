"""The store on a real database server: one clear message at start when it cannot be used, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.storage import Store, StoreUnavailableError
from tests.conftest import free_port

APP = str(Path(__file__).resolve().parent.parent / "app.py")
BAD_URLS = [
    ("not a url", "PLAYGROUND_DB is not a database URL this install can open"),
    ("mysql://user:hunter2@db.example/x", "No module named 'MySQLdb'"),
    (f"postgresql+psycopg://user:hunter2@127.0.0.1:{free_port()}/x", "Connection refused"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_a_database_that_cannot_be_used_is_one_message_naming_the_setting(url: str, reason: str):
    with pytest.raises(StoreUnavailableError) as refusal:
        Store(url)
    message = str(refusal.value)
    assert "PLAYGROUND_DB" in message and reason in message and "hunter2" not in message


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_the_cli_says_so_in_one_line_and_exits_2(url: str, reason: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PLAYGROUND_DB", url)
    command = [sys.executable, "-m", "playground", "run", "hi", "-m", "smollm2-135m", "--max-tokens", "2"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert (
        reason in proc.stderr
        and "Traceback" not in proc.stderr + proc.stdout
        and "hunter2" not in proc.stderr
    )


def test_a_schema_newer_than_this_version_is_named(db_url: str):
    store = Store(db_url)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    store.engine.dispose()
    with pytest.raises(StoreUnavailableError, match="schema this version does not know"):
        Store(db_url)


def test_the_history_page_says_the_database_cannot_be_used(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PLAYGROUND_DB", BAD_URLS[2][0])
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and not at.error  # a first page load opens no database
    at.switch_page("pages/history.py").run()
    assert not at.exception
    assert (
        "history database cannot be used" in at.error[0].value and "Connection refused" in at.error[0].value
    )
