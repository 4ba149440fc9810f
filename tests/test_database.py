"""The store on a real database server: one clear message at start when it cannot be used, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from playground.compare import Comparison, plan_comparison
from playground.core import Params
from playground.engine import Delta, Done
from playground.storage import Store, StoreUnavailableError
from playground.storage.runs import RunRow
from tests import postgres
from tests.apptest_runs import click_run
from tests.conftest import free_port, remote_spec
from tests.postgres import Cluster
from tests.scripted_server import ScriptedServer

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


@pytest.fixture()
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test's own, started; the test may stop and start it."""
    if not postgres.available():
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
    server = Cluster(folder, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_answers_of_a_run_survive_a_database_restart(scripted: ScriptedServer, own_cluster: Cluster):
    url = postgres.fresh_database(own_cluster.url)
    store = Store(url)
    specs = {
        "slow": remote_spec(scripted.url("ok~tokens=8~gap=0.25"), key="slow"),
        "quick": remote_spec(scripted.url("ok~tokens=2~ttft=0.5"), key="quick"),
    }
    comparison = Comparison(plan_comparison("hello", list(specs), specs, params=Params(max_tokens=8)), store)
    events = comparison.events()
    next(e for e in events if isinstance(e, Delta))
    own_cluster.stop()  # the database goes away mid-run (an AdminShutdown for every connection)
    done = [e.result for e in events if isinstance(e, Done)]
    assert {r.model for r in done} == {"slow", "quick"} and all(r.ok for r in done)  # the models went on
    assert {r.model for r in comparison.unsaved} == {"slow", "quick"}  # and the page can say so
    own_cluster.start()  # it comes back: the writer saves what it held
    assert store.writer.save("after the restart", lambda session: None, 60).saved.is_set()
    saved = Store(url).get_run(comparison.run_id)
    assert saved is not None and saved.state == "finished"
    assert {r.model: r.text for r in saved.results} == {r.model: r.text for r in done}


def test_a_run_whose_process_died_reads_as_interrupted_with_its_text_so_far(
    scripted: ScriptedServer, db_url: str
):
    import time

    script = (
        "import sys; from playground.compare import Comparison, plan_comparison; from playground.core import Params\n"
        "from playground.storage import Store; from tests.conftest import remote_spec\n"
        "spec = remote_spec(sys.argv[2], key='long')\n"
        "c = Comparison(plan_comparison('hi', ['long'], {'long': spec}, params=Params(max_tokens=50)), Store(sys.argv[1]))\n"
        "print(c.run_id, flush=True)\n"
        "for e in c.events(): pass\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, db_url, scripted.url("ok~tokens=50~gap=0.1")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    run_id = process.stdout.readline().strip()
    time.sleep(2.5)  # about 20 words streamed, and saved at most a second behind
    process.kill()  # kill -9 of the server mid-run
    process.wait()
    store = Store(db_url)
    run = store.get_run(run_id)
    assert run.state == "running"  # its heartbeat is still recent ...
    store.writer.save(
        "age the heartbeat",
        lambda session: session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5))
        ),
        10,
    )
    run = store.get_run(run_id)
    assert run.state == "interrupted"  # ... until it is old: never "finished" with "errors 0"
    (partial,) = run.results
    assert partial.error.kind == "interrupted" and partial.text.startswith("word0 word1 word2")


def test_compare_says_which_answers_are_not_saved_yet_and_offers_them(
    own_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
):
    url = postgres.fresh_database(own_cluster.url)
    monkeypatch.setenv("PLAYGROUND_DB", url)
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.text_area(key="prompt").input("Name three colors")
    at.number_input(key="max_tokens").set_value(4)
    at.run()
    click_run(at)  # a first run, saved: the app has its database open ...
    assert any("Run saved" in c.value for c in at.caption)
    own_cluster.stop()  # ... and then the database goes away
    click_run(at)
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "Not saved yet" in warning and "smollm2-135m" in warning and "gemma3-270m" in warning
    assert any("Download these answers" in b.label for b in at.get("download_button"))
    assert not any("Run saved" in c.value for c in at.caption)
    assert any("cannot be used just now" in e.value for e in at.error)  # View code could not read it
    own_cluster.start()
    store = Store(url)
    deadline = time.monotonic() + 60
    while len(runs := store.list_runs()) < 2 or len(runs[0].results) < 2:  # the server's writer catches up
        assert time.monotonic() < deadline, "the answers were not saved after the database came back"
        time.sleep(0.5)
    assert {r.model for r in runs[0].results} == {"smollm2-135m", "gemma3-270m"}


def test_sqlite_four_cli_processes_and_an_app_session_lose_no_row(
    scripted: ScriptedServer, tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
):
    models = tmp_path / "models.toml"
    models.write_text(
        "".join(
            f'[models.{key}]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url(scenario)}"\n\n'
            for key, scenario in (("a", "ok~tokens=3~gap=0.01"), ("b", "ok~tokens=5~gap=0.01"))
        )
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    loop = (
        "for i in 1 2 3 4 5; do "
        f'{sys.executable} -m playground run "hi $i" -m a -m b --json --max-tokens 8 || echo FAILED; done'
    )
    clis = [subprocess.Popen(["bash", "-c", loop], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    at = AppTest.from_file(APP, default_timeout=180).run()  # the app, saving at the same moments
    at.multiselect(key="models").set_value(["a", "b"])
    at.text_area(key="prompt").input("from the app")
    at.run()
    for _ in range(3):
        click_run(at)
        assert not at.exception and not any("Not saved yet" in w.value for w in at.warning)
    outputs = [process.communicate(timeout=300)[0] for process in clis]
    assert all("FAILED" not in out and '"storage"' not in out for out in outputs), outputs[0][-3000:]
    runs = Store(f"sqlite:///{clean_env}").list_runs(limit=1000)
    assert len(runs) == 4 * 5 + 3
    assert all(len(run.results) == 2 and all(r.ok for r in run.results) for run in runs)
    assert all(run.state == "finished" for run in runs)
