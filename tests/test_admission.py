"""Limits across replicas: one admission in the shared database for every process, spend never past what
was admitted, reservations freed by a process's death within its lease (on SQLite and PostgreSQL).

The replicas here are processes of their own (`tests/admission_replica.py`), each starting comparisons
from several threads at one wall-clock moment, as tabs clicking Run at once; the browser version, with
two `streamlit run` replicas and a real OpenID Connect sign-in, is in test_admission_browser.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from playground.core.format import metrics_line
from playground.core.policy import HostedPolicy, Limits, day_start
from playground.core.results import LENGTH_ENFORCED
from playground.engine.tokens import estimator_for
from playground.hosting import Gate, LimitExceededError, usage_report
from playground.hosting.report import OVER_ADMISSION
from playground.storage import Store
from tests.admission_replica import DAVE, priced_spec, race_plan
from tests.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
MAX_TOKENS = 16


def hosted(**limits: Any) -> Gate:
    return Gate(HostedPolicy(enabled=True, limits=Limits(**limits)))


def replica(settings: dict[str, Any]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.admission_replica", json.dumps(settings)]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )


def race(settings: dict[str, Any], replicas: int = 2, threads: int = 3) -> list[dict[str, Any]]:
    """`replicas` processes, each starting `threads` comparisons at the same moment; every outcome."""
    at = time.time() + 5.0  # after every process has imported and opened the store
    processes = [replica({**settings, "threads": threads, "at": at}) for _ in range(replicas)]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outcomes += [json.loads(line) for line in out.splitlines()]
    assert len(outcomes) == replicas * threads
    return outcomes


def freed_within(admission: Callable[[], object], seconds: float, what: str) -> None:
    """Try `admission` until it is no longer refused; fail if that takes more than `seconds`."""
    since = time.monotonic()
    while True:
        try:
            admission()
            return
        except LimitExceededError:
            assert time.monotonic() - since < seconds, f"{what} still counts after {seconds} s"
            time.sleep(0.1)


def test_six_runs_started_at_once_on_two_replicas_hold_the_run_limit_and_the_daily_budget(
    db_url: str, scripted: ScriptedServer
):
    # A server that ignores max_tokens: 60 words for max 16 tokens, each run going about a second.
    scenario = "ok~tokens=60~gap=0.05~id=race"
    spec = priced_spec(scripted.url(scenario), "10000")
    ceiling = race_plan(spec, MAX_TOKENS).ask().max_cost_usd  # what one run is admitted to cost at most
    daily = ceiling * Decimal("3.5")  # room for three runs, not four
    settings = {
        "db": db_url,
        "base_url": spec.base_url,
        "price": "10000",
        "max_tokens": MAX_TOKENS,
        "concurrent": 2,
        "daily_usd": str(daily),
    }
    Store(db_url)  # migrated once, before the replicas race to open it
    scripted.reset_peak(scenario)

    first = race(settings)
    admitted = [o for o in first if o["admitted"]]
    assert len(admitted) == 2, first  # six tabs, two replicas, a limit of two at once
    assert scripted.peak(scenario) <= 2
    assert all("2 runs going; the limit is 2" in o["refusal"] for o in first if not o["admitted"])

    second = race(settings)  # two runs' spend is in the ledger: one more fits the budget
    assert sum(o["admitted"] for o in second) == 1, second
    third = race(settings)
    assert not any(o["admitted"] for o in third)
    assert all("daily limit is" in o["refusal"] for o in third)

    answers = admitted + [o for o in second if o["admitted"]]
    for answer in answers:  # each cut at max tokens and charged at most what it was admitted for
        assert answer["finish_reason"] == LENGTH_ENFORCED
        assert estimator_for("gpt-4").count_text(answer["text"]) == MAX_TOKENS
        assert Decimal(answer["cost_usd"]) <= Decimal(answer["max_cost_usd"]) == ceiling
    store = Store(db_url)
    spent = store.spent_since(DAVE.id, day_start())
    assert spent <= daily and spent == sum(Decimal(a["cost_usd"]) for a in answers)


def test_a_killed_replica_s_reservation_stops_counting_when_its_lease_runs_out(
    db_url: str, scripted: ScriptedServer
):
    spec = priced_spec(scripted.url("ok~tokens=500~gap=0.5"), "1000")
    Store(db_url)
    holder = replica(
        {
            "db": db_url,
            "base_url": spec.base_url,
            "price": "1000",
            "max_tokens": 600,
            "concurrent": 1,
            "daily_usd": "100",
            "lease_s": 3,
            "hold": True,
        }
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "admitted"
        store = Store(db_url)
        gate = hosted(concurrent_runs=1)
        ask = race_plan(spec, 10).ask()
        with pytest.raises(LimitExceededError, match="1 runs going"):  # the other replica's run counts here
            gate.check(DAVE, ask, store)
        time.sleep(3.5)
        with pytest.raises(LimitExceededError, match="1 runs going"):  # renewed while its process lives
            gate.check(DAVE, ask, store)
    finally:
        holder.kill()
        holder.wait(10)
    freed_within(lambda: gate.admit(DAVE, ask, store).release(), 3.0 + 1.5, "the dead replica's run")


def test_a_hosted_worker_killed_mid_job_frees_its_owner_within_its_lease(
    db_url: str, scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from playground.core.policy import User
    from playground.core.specs import load_specs
    from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
    from playground.evals.jobs import queue_evaluation

    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.paid-slow]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo~ttft=1")}"\n'
        "context_window = 4096\nprice_input_per_mtok = 1\nprice_output_per_mtok = 1\n"
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    store = Store(db_url)
    rows = tuple({"q": f"question {i}", "expected": "x"} for i in range(40))
    setup = EvalSetup(template="{q}", models=("paid-slow",), metrics=(MetricChoice("contains"),))
    dataset = Dataset("d", ("q", "expected"), rows)
    evaluation = Evaluation(setup, dataset, load_specs(), evaluation_store(store), user=User(DAVE.id, "Dave"))
    queue_evaluation(evaluation, store)
    env = {**os.environ, "PLAYGROUND_HOSTED": "1", "PLAYGROUND_MAX_CONCURRENT_RUNS": "1"}
    command = [sys.executable, "-m", "playground", "worker", "--lease", "3", "--name", "doomed"]
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    gate, ask = hosted(concurrent_runs=1), race_plan(priced_spec(scripted.url("ok"), "1"), 10).ask()
    try:
        deadline = time.monotonic() + 60
        while True:  # until the worker's evaluation is admitted (it then counts everywhere)
            try:
                gate.check(DAVE, ask, store)
            except LimitExceededError:
                break
            assert time.monotonic() < deadline, f"the worker never started the job: {log.read_text()}"
            time.sleep(0.2)
    finally:
        worker.kill()
        worker.wait(10)
    freed_within(lambda: gate.check(DAVE, ask, store), 3.0 + 1.5, "the killed worker's evaluation")


def test_a_stream_past_max_tokens_is_cut_there_and_charged_at_most_its_admitted_maximum(
    scripted: ScriptedServer, db_url: str
):
    from playground.compare import Comparison

    store = Store(db_url)
    spec = priced_spec(scripted.url("ok~tokens=175"), "1000")  # 175 words sent for max 16 tokens
    plan = race_plan(spec, MAX_TOKENS)
    comparison = Comparison(plan, store, user=DAVE, gate=hosted(daily_usd=Decimal(1)))
    list(comparison.events())
    result = comparison.results[0]
    assert result.ok and result.finish_reason == LENGTH_ENFORCED
    assert result.output_tokens == MAX_TOKENS == estimator_for(spec.model).count_text(result.text)
    assert result.text.startswith("word0 word1 ") and "word20" not in result.text
    assert result.cost_usd == result.max_cost_usd == plan.ask().max_cost_usd
    assert "cut by the playground" in metrics_line(result)
    store.writer.flush(10)
    assert store.spent_since(DAVE.id, day_start()) == result.cost_usd
    assert store.get_run(comparison.run_id).results[0].finish_reason == LENGTH_ENFORCED


def test_a_model_counted_with_another_tokenizer_is_cut_with_room_and_charged_at_most_its_maximum(
    scripted: ScriptedServer, db_url: str
):
    from dataclasses import replace

    from playground.compare import Comparison
    from playground.engine.runner import ESTIMATE_SLACK

    store = Store(db_url)
    # A Llama on an OpenAI-compatible server: tiktoken only estimates its tokens, so the cut leaves room.
    spec = replace(priced_spec(scripted.url("ok~tokens=175"), "1000"), model="llama-3.1-8b-instruct")
    plan = race_plan(spec, MAX_TOKENS)
    comparison = Comparison(plan, store, user=DAVE, gate=hosted())
    list(comparison.events())
    result = comparison.results[0]
    assert result.finish_reason == LENGTH_ENFORCED
    assert result.output_tokens == MAX_TOKENS * ESTIMATE_SLACK[0] + ESTIMATE_SLACK[1]
    assert result.cost_usd == result.max_cost_usd == plan.ask().max_cost_usd  # charged the admitted maximum


def test_a_usage_report_above_the_admitted_maximum_is_kept_and_shown_as_over_admission(
    scripted: ScriptedServer, db_url: str
):
    from playground.compare import Comparison

    store = Store(db_url)
    # Three words streamed, but the usage report bills 500 output tokens: more than max 16 allows.
    spec = priced_spec(scripted.url("ok~tokens=3~usage=1~report_out=500"), "1000")
    comparison = Comparison(race_plan(spec, MAX_TOKENS), store, user=DAVE, gate=hosted())
    list(comparison.events())
    result = comparison.results[0]
    assert result.usage_source == "reported" and result.output_tokens == 500
    assert result.cost_usd is not None and result.max_cost_usd is not None
    assert result.cost_usd > result.max_cost_usd  # stored as reported
    store.writer.flush(10)
    report = usage_report(store)
    assert report.over_admission_usd == result.cost_usd - result.max_cost_usd
    assert report.spend_by("owner")[0][OVER_ADMISSION] == result.cost_usd - result.max_cost_usd
    assert report.records[0].max_cost_usd == result.max_cost_usd


def test_a_run_s_reservation_shrinks_by_what_its_calls_were_charged(scripted: ScriptedServer, db_url: str):
    """While a run goes, its spend counts once: in the ledger, and its reservation less that spend."""
    from playground.storage.admissions import AdmissionStore

    store = Store(db_url)
    gate = hosted()
    ticket = gate.admit(DAVE, race_plan(priced_spec(scripted.url("ok"), "1"), 10).ask(), store)
    from playground.core.results import RunResult

    reserved = ticket.reserved_usd
    half = reserved / 2
    store.record_call(DAVE.id, "run", "r", RunResult(model="paid", cost_usd=half), ticket.admission_id)
    store.writer.flush(10)
    standing = AdmissionStore(store).standing(DAVE.id, day_start())
    assert (standing.going, standing.spent_usd, standing.reserved_usd) == (1, half, reserved - half)
    ticket.release()
    standing = AdmissionStore(store).standing(DAVE.id, day_start())
    assert (standing.going, standing.spent_usd, standing.reserved_usd) == (0, half, 0)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PLAYGROUND_MAX_CONCURRENT_RUNS", "-2", "PLAYGROUND_MAX_CONCURRENT_RUNS must be at least 1, not -2"),
        ("PLAYGROUND_MAX_TOKENS", "lots", "PLAYGROUND_MAX_TOKENS must be a whole number, not 'lots'"),
        (
            "PLAYGROUND_USER_DAILY_USD",
            "-1",
            "PLAYGROUND_USER_DAILY_USD must be a finite amount of at least 0",
        ),
        ("PLAYGROUND_USER_DAILY_USD", "ten", "PLAYGROUND_USER_DAILY_USD must be an amount in USD, not 'ten'"),
    ],
)
def test_playground_serve_stops_on_a_bad_limit_naming_the_setting(variable: str, value: str, expected: str):
    env = {**os.environ, "PLAYGROUND_HOSTED": "1", variable: value}
    done = subprocess.run(
        [sys.executable, "-m", "playground", "serve", "--server.port=1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert expected in done.stderr + done.stdout
