"""Evaluations as background jobs: queued in the store, run by `playground worker` processes, followed and
stopped from the Evaluate page; never stopped by a closed tab or a restarted worker, never a row twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from playground.core.errors import UsageError
from playground.core.policy import HostedPolicy, Limits, User, day_start
from playground.core.results import RunResult
from playground.core.specs import load_specs
from playground.engine.registry import Keyring
from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
from playground.evals.jobs import EvalWorker, follow, placement, queue_evaluation, stop_job
from playground.hosting.gate import Gate
from playground.storage import Store
from playground.storage.jobs import JobRow, JobStore
from tests.scripted_server import ScriptedServer

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def echo_models(scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models file (the server's configuration) with two scripted models that echo the prompt."""
    models = tmp_path / "models.toml"
    models.write_text(
        "".join(
            f'[models.{key}]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url(scenario)}"\n'
            "context_window = 4096\n\n"
            for key, scenario in (("echo", "echo~ttft=0.05"), ("slow", "echo~ttft=0.4"))
        )
        + f'[models.priced]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo")}"\n'
        "context_window = 4096\nprice_input_per_mtok = 1000\nprice_output_per_mtok = 1000\n"
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    return models


def _queue(
    store: Store, tag: str, rows: int, model: str = "echo", concurrency: int = 2, owner: str = "local"
) -> str:
    """A saved evaluation of `rows` distinct questions on `model`, put in the workers' queue."""
    dataset = Dataset(
        tag,
        ("question", "expected"),
        tuple({"question": f"{tag} question {i}", "expected": f"{tag} question {i}"} for i in range(rows)),
    )
    setup = EvalSetup(
        template="{question}",
        models=(model,),
        metrics=(MetricChoice("contains"),),
        concurrency=concurrency,
    )
    evaluation = Evaluation(setup, dataset, load_specs(), evaluation_store(store), user=User(owner, owner))
    queue_evaluation(evaluation, store)
    assert evaluation.eval_id is not None
    return evaluation.eval_id


def _asked(scripted: ScriptedServer, tag: str) -> Counter[str]:
    """How many times each question of `tag` reached the scripted server."""
    last = [r["body"]["messages"][-1]["content"] for r in scripted.requests if r["body"].get("messages")]
    # Other tests' requests are there too; a vision request's content is a list of parts, never ours.
    return Counter(text for text in last if isinstance(text, str) and text.startswith(f"{tag} "))


def _worker(name: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "playground", "worker", "--name", name, *args]
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ.copy())


def _wait_for(condition, timeout_s: float, what: str) -> None:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def _in_thread(worker: EvalWorker) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.shutdown()
        thread.join(30)


def test_two_worker_processes_share_the_queue_and_ask_every_question_once(
    db_url: str, scripted: ScriptedServer, echo_models: Path, tmp_path: Path
):
    store = Store(db_url)
    tags = [f"share{n}-{tmp_path.name}" for n in range(4)]
    ids = [_queue(store, tag, 12, model="slow") for tag in tags]  # 2.4 s each: both workers get some
    workers = [_worker(f"w{n}", tmp_path / f"w{n}.log", "--once") for n in (1, 2)]
    for process in workers:
        assert process.wait(180) == 0, (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
    jobs = JobStore(store)
    for eval_id, tag in zip(ids, tags, strict=True):
        job = jobs.get(eval_id)
        assert job is not None and job.state == "done" and job.claims == 1
        saved = evaluation_store(store).get(eval_id)
        assert saved is not None and saved.complete and len(saved.cells) == 12
        assert all(cell.result.ok and cell.scores["contains"].passed for cell in saved.cells)
        asked = _asked(scripted, tag)
        assert len(asked) == 12 and set(asked.values()) == {1}, asked  # never a row twice
    assert {jobs.get(i).worker for i in ids} == {"w1", "w2"}  # both took jobs  # type: ignore[union-attr]
    assert jobs.workers_alive(60) == []  # each said it stopped


def test_sigterm_lets_the_calls_in_flight_finish_and_hands_the_job_back(
    db_url: str, scripted: ScriptedServer, echo_models: Path, tmp_path: Path
):
    store = Store(db_url)
    tag = f"term-{tmp_path.name}"
    eval_id = _queue(store, tag, 24, model="slow", concurrency=3)
    evals = evaluation_store(store)
    first = _worker("first", tmp_path / "first.log")
    _wait_for(lambda: evals.done_count(eval_id) >= 4, 60, "a few answers")
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    job = JobStore(store).get(eval_id)
    assert job is not None and job.state == "queued" and job.worker is None  # handed back, not lost
    left = evals.done_count(eval_id)
    assert left < 24
    second = _worker("second", tmp_path / "second.log", "--once")
    assert second.wait(120) == 0
    saved = evals.get(eval_id)
    assert saved is not None and saved.complete
    asked = _asked(scripted, tag)
    # The calls in flight at SIGTERM finished and were saved: nothing was paid for twice.
    assert len(asked) == 24 and set(asked.values()) == {1}, asked
    job = JobStore(store).get(eval_id)
    assert job is not None and job.state == "done" and job.claims == 2 and job.worker == "second"
    assert "handed back" in (tmp_path / "first.log").read_text()


def test_a_killed_worker_s_job_is_resumed_by_another_when_its_lease_runs_out(
    db_url: str, scripted: ScriptedServer, echo_models: Path, tmp_path: Path
):
    store = Store(db_url)
    tag = f"kill-{tmp_path.name}"
    eval_id = _queue(store, tag, 20, model="slow", concurrency=2)
    evals = evaluation_store(store)
    doomed = _worker("doomed", tmp_path / "doomed.log", "--lease", "3")
    _wait_for(lambda: evals.done_count(eval_id) >= 4, 60, "a few answers")
    doomed.kill()
    doomed.wait(10)
    saved_before = evals.done_count(eval_id)
    heir = _worker("heir", tmp_path / "heir.log", "--lease", "3")
    try:
        _wait_for(lambda: _state(store, eval_id) == "done", 120, "the job to finish")
    finally:
        heir.terminate()
        heir.wait(30)
    job = JobStore(store).get(eval_id)
    assert job is not None and job.claims == 2 and job.worker == "heir"
    saved = evals.get(eval_id)
    assert saved is not None and saved.complete and len(saved.cells) == 20
    asked = _asked(scripted, tag)
    assert len(asked) == 20
    # Only the answers in flight when it was killed (at most its concurrency) were asked again; none saved.
    assert sum(asked.values()) - 20 <= 2, asked
    assert saved_before >= 4


def test_stop_ends_a_running_job_and_queuing_it_again_runs_only_the_rest(
    db_url: str, scripted: ScriptedServer, echo_models: Path
):
    store = Store(db_url)
    eval_id = _queue(store, "stop", 30, model="slow", concurrency=2)
    evals = evaluation_store(store)
    worker = EvalWorker(store, load_specs(), renew_s=0.2, name="in-process")
    with _in_thread(worker):
        _wait_for(lambda: evals.done_count(eval_id) >= 2, 60, "a few answers")
        assert stop_job(eval_id, "someone else", store) is None  # only the owner stops it
        job = stop_job(eval_id, "local", store)
        assert job is not None and job.stop_requested
        _wait_for(lambda: _state(store, eval_id) == "stopped", 10, "the worker to stop it")
        stopped_at = evals.done_count(eval_id)
        time.sleep(1.0)
        assert evals.done_count(eval_id) == stopped_at < 30  # nothing more runs
        JobStore(store).enqueue(eval_id, "local", 30)  # Resume, from the page
        _wait_for(lambda: _state(store, eval_id) == "done", 60, "the resumed job")
    saved = evals.get(eval_id)
    assert saved is not None and saved.complete


def test_claims_take_each_job_once_skip_locked_ones_and_are_fair_between_owners(db_url: str):
    store = Store(db_url)
    jobs = JobStore(store)
    ids = [_bare_eval(store, f"a{n}", "alice") for n in range(3)] + [_bare_eval(store, "b0", "bob")]
    for eval_id in ids:
        jobs.enqueue(eval_id, "alice" if eval_id != ids[-1] else "bob", 1)
    first = jobs.claim("w1", 30)
    second = jobs.claim("w2", 30)
    assert first is not None and first.eval_id == ids[0]
    assert (
        second is not None and second.eval_id == ids[-1]
    )  # bob runs nothing yet: he goes before alice's 2nd
    assert jobs.claim("w3", 30, max_per_owner=1) is None  # alice already has one running
    assert jobs.get(ids[2]).ahead == 1  # type: ignore[union-attr]

    # Eight workers claiming at once from twenty jobs: each job goes to exactly one of them.
    many = [_bare_eval(store, f"m{n}", f"user{n}") for n in range(20)]
    for n, eval_id in enumerate(many):
        jobs.enqueue(eval_id, f"user{n}", 1)

    def claim_all(worker: str) -> list[str]:
        taken = []
        while (job := jobs.claim(worker, 30)) is not None:
            taken.append(job.eval_id)
        return taken

    with ThreadPoolExecutor(8) as pool:
        taken = [eval_id for batch in pool.map(claim_all, [f"c{n}" for n in range(8)]) for eval_id in batch]
    assert sorted(taken) == sorted([ids[1], ids[2], *many])


def test_a_worker_whose_lease_ran_out_loses_its_job_to_the_next(db_url: str):
    store = Store(db_url)
    jobs = JobStore(store)
    eval_id = _bare_eval(store, "lease", "local")
    jobs.enqueue(eval_id, "local", 1)
    assert jobs.claim("slow", 30) is not None
    assert jobs.claim("eager", 30) is None  # its lease holds
    assert jobs.renew(eval_id, "slow", 30).held
    with store.reading(write=True) as session:  # "slow" stalled past its lease
        session.execute(
            update(JobRow)
            .where(JobRow.eval_id == eval_id)
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    taken = jobs.claim("eager", 30)
    assert taken is not None and taken.worker == "eager" and taken.claims == 2
    assert not jobs.renew(eval_id, "slow", 30).held  # the stalled one learns it lost the job and stops
    assert not jobs.end(eval_id, "slow", "done")
    assert jobs.end(eval_id, "eager", "done")
    jobs.enqueue(eval_id, "local", 1)  # queued again: it cannot be deleted until it is stopped
    with pytest.raises(UsageError, match="stop it first"):
        evaluation_store(store).delete(eval_id)
    jobs.request_stop(eval_id)
    assert evaluation_store(store).delete(eval_id)
    assert jobs.get(eval_id) is None  # its job went with it


def test_a_hosted_worker_runs_each_job_as_its_owner_under_their_daily_budget(
    db_url: str, scripted: ScriptedServer, echo_models: Path
):
    store = Store(db_url)
    alice = _queue(store, "alice", 2, model="priced", owner="iss|alice")
    bob = _queue(store, "bob", 2, model="priced", owner="iss|bob")
    anonymous = _queue(store, "anon", 1, model="priced", owner="local")
    store.record_call("iss|bob", "run", "earlier", RunResult(model="priced", cost_usd=Decimal("0.95")))
    store.writer.flush(10)
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("1"))))
    assert EvalWorker(store, load_specs(), gate=gate, name="hosted").serve(once=True) == 3
    jobs = JobStore(store)
    assert _state(store, alice) == "done"
    assert store.spent_since("iss|alice", day_start()) == store.spent_on(alice) > 0  # charged to its owner
    refused = jobs.get(bob)
    assert refused is not None and refused.state == "failed"
    assert "daily limit is 1 USD" in (refused.error or "") and _asked(scripted, "bob") == Counter()
    nobody = jobs.get(anonymous)
    assert nobody is not None and nobody.state == "failed" and "signed-in user" in (nobody.error or "")


def test_where_an_evaluation_runs(echo_models: Path, monkeypatch: pytest.MonkeyPatch):
    store = Store()
    specs = load_specs()
    setup = EvalSetup(template="{q}", models=("echo",), metrics=(MetricChoice("contains"),))
    server = Keyring(server={})
    assert not placement(setup, specs, server, store).on_worker  # auto, no worker alive: in the page
    JobStore(store).seen("w", None)
    assert placement(setup, specs, server, store).on_worker
    typed = Keyring(visitor={"OPENAI_API_KEY": "sk-visitor"}, server={})
    openai_setup = EvalSetup(template="{q}", models=("gpt-4o-mini",), metrics=(MetricChoice("contains"),))
    where = placement(openai_setup, specs, typed, store)
    assert not where.on_worker and "stays in this session" in where.reason
    monkeypatch.setenv("PLAYGROUND_EVAL_JOBS", "never")
    assert not placement(setup, specs, server, store).on_worker
    monkeypatch.setenv("PLAYGROUND_EVAL_JOBS", "sometimes")
    with pytest.raises(Exception, match="PLAYGROUND_EVAL_JOBS must be auto, always or never"):
        placement(setup, specs, server, store)


def test_the_page_queues_follows_and_stops_a_job_and_shows_it_when_a_worker_ran_it(
    echo_models: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PLAYGROUND_EVAL_JOBS", "always")
    at = _evaluate_page()
    at.button(key="ev-run").click().run()
    assert not at.exception and not at.error
    store = Store()
    [listing] = evaluation_store(store).list()
    progress = follow(listing.id, store)
    assert progress is not None and progress.job.state == "queued" and progress.total == listing.total
    assert any("no worker alive" in p.proto.text for p in at.get("progress")), "the page follows the job"
    assert not [b for b in at.button if b.key == "ev-resume"]  # it is going: no Resume, no Delete
    at.button(key=f"ev-job-stop-{listing.id}").click().run()
    assert JobStore(store).get(listing.id).state == "stopped"  # type: ignore[union-attr]

    at.button(key="ev-resume").click().run()  # queued again
    assert JobStore(store).get(listing.id).state == "queued"  # type: ignore[union-attr]
    assert EvalWorker(store, load_specs(), name="t").serve(once=True) == 1
    at.run()
    assert not at.exception and not at.warning
    assert any(f"{listing.total} of {listing.total} answers" in s.value for s in at.subheader)


def _evaluate_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/evaluate.py").run()
    at.selectbox(key="ev-sample").set_value("qa.csv").run()
    at.multiselect(key="ev-models").set_value(["echo"]).run()
    at.number_input(key="ev-limit-qa.csv").set_value(4).run()
    return at


def _state(store: Store, eval_id: str) -> str | None:
    job = JobStore(store).get(eval_id)
    return job.state if job else None


def _bare_eval(store: Store, name: str, owner: str) -> str:
    return evaluation_store(store).create(
        name, {"models": ["m"], "metrics": []}, {"name": name, "columns": [], "rows": [{}]}, owner=owner
    )


def test_the_cli_queues_an_evaluation_and_a_worker_runs_it(echo_models: Path, tmp_path: Path):
    queued = subprocess.run(
        [sys.executable, "-m", "playground", "eval", "qa.csv", "-m", "echo", "--limit", "3", "--queue"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 0, queued.stderr
    eval_id = queued.stdout.strip()  # the id alone on stdout, for scripts
    assert "queued (0 ahead)" in queued.stderr and _state(Store(), eval_id) == "queued"
    worker = subprocess.run(
        [sys.executable, "-m", "playground", "worker", "--once", "--name", "cli"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert f"evaluation {eval_id}: done" in worker.stderr and "stopped after 1 job(s)" in worker.stderr
    saved = evaluation_store(Store()).get(eval_id)
    assert saved is not None and saved.complete and len(saved.cells) == 3


def test_a_worker_on_a_database_it_cannot_use_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PLAYGROUND_DB", "postgresql+psycopg://user:hunter2@127.0.0.1:1/x")
    result = subprocess.run(
        [sys.executable, "-m", "playground", "worker", "--once"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot use the database at postgresql+psycopg://user:***@")
    assert (
        "PLAYGROUND_DB" in result.stderr
        and "Traceback" not in result.stderr
        and "hunter2" not in result.stderr
    )


def test_a_job_the_worker_cannot_read_fails_alone_and_the_worker_goes_on(echo_models: Path):
    from playground.storage.evals import EvalRow

    store = Store()
    broken = _queue(store, "broken", 2)
    fine = _queue(store, "fine", 2)
    with store.reading(write=True) as session:  # a row damaged by hand in the database
        session.execute(update(EvalRow).where(EvalRow.id == broken).values(dataset={"name": "broken"}))
    assert EvalWorker(store, load_specs(), name="t").serve(once=True) == 2
    failed = JobStore(store).get(broken)
    assert failed is not None and failed.state == "failed"
    assert (failed.error or "").startswith("internal error in the worker: KeyError")
    assert _state(store, fine) == "done"
