"""Hosted mode without a browser: limits and budgets enforced before any call, owners in the store, the
migration that gives old rows an owner, the hardening check, and keys that stay where they belong."""

from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from playground.compare import Comparison, plan_comparison
from playground.core import LOCAL_OWNER, HostedPolicy, HostingConfigError, Params, User
from playground.core.policy import Limits
from playground.core.specs import ModelSpec
from playground.engine import Keyring
from playground.engine.registry import api_key
from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
from playground.hosting import REQUIRED_OPTIONS, Gate, LimitExceededError, hardening_problems, usage_report
from playground.storage import Store
from providers.errors import MissingKeyError
from tests.scripted_server import ScriptedServer

ALICE = User("https://id.example|alice", "Alice", "alice@example.com")
BOB = User("https://id.example|bob", "Bob", "bob@example.com")
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "history-4ae08a8.db"


def hosted(**limits: object) -> HostedPolicy:
    return HostedPolicy(enabled=True, limits=Limits(**limits))


def priced(scripted: ScriptedServer, scenario: str = "ok~tokens=3~usage=1") -> dict[str, ModelSpec]:
    """An admin-configured model (models file, server key) at 1 USD per million tokens each way."""
    spec = ModelSpec(
        key="paid",
        provider="openai",
        model="gpt-4o-mini",
        base_url=scripted.url(scenario),
        api_key_env="ADMIN_KEY",
        price_input_per_mtok=Decimal(1000),
        price_output_per_mtok=Decimal(1000),
    )
    return {"paid": spec}


def plan_for(specs: dict[str, ModelSpec], max_tokens: int = 100):
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    return plan_comparison("hello", list(specs), specs, params=Params(max_tokens=max_tokens), keys=keys)


def refused_with_no_request(scripted: ScriptedServer, start) -> str:  # noqa: ANN001 - a callable
    scripted.requests.clear()
    with pytest.raises(LimitExceededError) as refusal:
        start()
    assert scripted.requests == []  # refused before any upstream call
    return str(refusal.value)


def test_a_budget_refusal_sends_nothing_and_names_the_figures_and_the_reset(
    scripted: ScriptedServer, db_url: str
):
    store = Store(db_url)
    specs = priced(scripted)
    gate = Gate(hosted(daily_usd=Decimal("0.05")))
    plan = plan_for(specs)  # 100 output tokens at 1000 USD/Mtok = 0.1 USD at most
    message = refused_with_no_request(scripted, lambda: Comparison(plan, store, user=ALICE, gate=gate))
    assert "spent 0 USD today" in message and "may cost up to 0.1" in message
    assert "daily limit is 0.05 USD (PLAYGROUND_USER_DAILY_USD)" in message
    reset = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d 00:00")
    assert f"resets at {reset} UTC" in message
    assert store.list_runs() == []  # nothing saved either


def test_spend_so_far_counts_against_the_budget(scripted: ScriptedServer, db_url: str):
    store = Store(db_url)
    specs = priced(scripted)
    gate = Gate(hosted(daily_usd=Decimal("0.1")))
    first = Comparison(plan_for(specs, max_tokens=20), store, user=ALICE, gate=gate)
    list(first.events())
    spent = store.spent_since(ALICE.id, datetime.now(UTC) - timedelta(hours=1))
    assert spent == first.results[0].cost_usd > 0  # the ledger has the actual cost
    # 0.1 USD cap: spent (> 0) plus a run of at most 0.1 USD no longer fits...
    message = refused_with_no_request(
        scripted, lambda: Comparison(plan_for(specs, max_tokens=100), store, user=ALICE, gate=gate)
    )
    assert f"spent {spent.normalize()} USD today" in message
    # ... while another user's budget is their own.
    list(Comparison(plan_for(specs, max_tokens=20), store, user=BOB, gate=gate).events())


@pytest.mark.parametrize(
    ("limits", "repeat", "max_tokens", "expected"),
    [
        ({"max_tokens": 50}, 1, 100, "100 max tokens; the limit is 50 (PLAYGROUND_MAX_TOKENS)"),
        (
            {"calls_per_run": 3},
            4,
            10,
            "4 calls in this comparison; the limit is 3 (PLAYGROUND_MAX_CALLS_PER_RUN)",
        ),
    ],
)
def test_per_run_caps(scripted: ScriptedServer, limits, repeat, max_tokens, expected):  # noqa: ANN001
    gate = Gate(hosted(**limits))
    plan = plan_for(priced(scripted), max_tokens=max_tokens)
    message = refused_with_no_request(
        scripted, lambda: Comparison(plan, Store(), repeat=repeat, user=ALICE, gate=gate)
    )
    assert expected in message


def test_concurrent_runs_are_capped_per_user_and_freed_when_a_run_ends(scripted: ScriptedServer):
    store = Store()
    gate = Gate(hosted(concurrent_runs=1))
    slow = priced(scripted, "ok~tokens=3~gap=0.5")
    going = Comparison(plan_for(slow), store, user=ALICE, gate=gate)
    message = refused_with_no_request(
        scripted, lambda: Comparison(plan_for(slow), store, user=ALICE, gate=gate)
    )
    assert "You have 1 runs going; the limit is 1 at once (PLAYGROUND_MAX_CONCURRENT_RUNS)" in message
    Comparison(plan_for(slow), store, user=BOB, gate=gate).cancel()  # another user is not held up
    list(going.events())  # the run ends ...
    Comparison(plan_for(priced(scripted)), store, user=ALICE, gate=gate)  # ... and frees its place


def test_unknown_price_is_refused_unless_the_admin_allows_it(scripted: ScriptedServer):
    spec = ModelSpec(
        key="free?", provider="openai", model="mystery-model", base_url=scripted.url("ok~tokens=2")
    )
    specs = {spec.key: spec}
    message = refused_with_no_request(
        scripted, lambda: Comparison(plan_for(specs), Store(), user=ALICE, gate=Gate(hosted()))
    )
    assert "No price is known for free?" in message and "PLAYGROUND_ALLOW_UNPRICED" in message
    allowed = Gate(hosted(unpriced_allowed=frozenset({"free?"})))
    comparison = Comparison(plan_for(specs), Store(), user=ALICE, gate=allowed)
    list(comparison.events())
    assert [r.ok for r in comparison.results] == [True]


def test_local_mode_admits_everything():
    gate = Gate(HostedPolicy())
    plan = plan_comparison("hi", ["smollm2-135m"], {"smollm2-135m": _local()}, params=Params(max_tokens=8000))
    Comparison(plan, Store(), repeat=20, gate=gate).cancel()


def _local() -> ModelSpec:
    from playground.core import load_specs

    return load_specs()["smollm2-135m"]


def test_an_evaluation_is_refused_before_anything_is_saved_or_sent(scripted: ScriptedServer):
    store = evaluation_store(Store())
    specs = priced(scripted)
    rows = tuple({"q": f"question {i}", "expected": "a"} for i in range(5))
    setup = EvalSetup(template="{q}", models=("paid",), metrics=(MetricChoice("contains"),), concurrency=2)
    keys = Keyring(server={"ADMIN_KEY": "k"}, hosted=True)
    dataset = Dataset("d", ("q", "expected"), rows)

    def start() -> Evaluation:
        return Evaluation(setup, dataset, specs, store, keys=keys, user=ALICE, gate=gate)

    gate = Gate(hosted(eval_calls=4))
    assert (
        "5 calls in this evaluation; the limit is 4 (PLAYGROUND_MAX_EVAL_CALLS)"
        in refused_with_no_request(scripted, start)
    )
    gate = Gate(hosted(eval_concurrency=1))
    assert "2 calls at once; the limit is 1 (PLAYGROUND_MAX_EVAL_CONCURRENCY)" in refused_with_no_request(
        scripted, start
    )
    # 5 rows × (128 output + about 10 input tokens) at 1000 USD/Mtok: 0.69 USD at most.
    gate = Gate(hosted(daily_usd=Decimal("0.5")))
    assert re.search(r"this evaluation may cost up to 0\.6\d+ USD", refused_with_no_request(scripted, start))
    assert store.list() == []


def test_owners_each_see_and_delete_only_their_own(scripted: ScriptedServer, db_url: str):
    store = Store(db_url)
    mine = store.create_run("alice's", ["m"], {}, owner=ALICE.id)
    theirs = store.create_run("bob's", ["m"], {}, owner=BOB.id)
    assert [r.prompt for r in store.list_runs(owner=ALICE.id)] == ["alice's"]
    assert store.get_run(theirs).owner == BOB.id  # a share link reads it
    assert store.delete_run(theirs, owner=ALICE.id) is False and store.get_run(theirs) is not None
    assert store.delete_run(mine, owner=ALICE.id) is True
    evals = evaluation_store(store)
    bobs = evals.create("d", {"models": ["m"]}, {"rows": [], "columns": []}, owner=BOB.id)
    assert evals.list(owner=ALICE.id) == [] and len(evals.list(owner=BOB.id)) == 1
    assert evals.delete(bobs, owner=ALICE.id) is False and evals.get(bobs) is not None
    with pytest.raises(Exception, match="no evaluation .* of yours"):
        Evaluation.resume(bobs, priced(scripted), evals, user=ALICE, gate=Gate(hosted()))


def test_the_migration_gives_old_rows_the_local_owner_and_fills_the_ledger(tmp_path: Path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    store = Store(f"sqlite:///{path}")
    runs = store.list_runs()
    assert runs and {r.owner for r in runs} == {LOCAL_OWNER}
    evals = evaluation_store(store).list(owner=LOCAL_OWNER)
    assert evals
    ledger = usage_report(store, days=10_000).records
    calls = sum(len(r.results) for r in runs)
    cells = evaluation_store(store).get(evals[0].id).cells
    assert len(ledger) == calls + len(cells) + sum(1 for c in cells if c.judge)
    assert {r.owner for r in ledger} == {LOCAL_OWNER}


def test_the_admin_report_sums_exact_money_per_user_and_model(scripted: ScriptedServer, db_url: str):
    store = Store(db_url)
    specs = priced(scripted)
    for user in (ALICE, BOB, BOB):
        list(Comparison(plan_for(specs, max_tokens=20), store, user=user, gate=Gate(hosted())).events())
    report = usage_report(store, days=1)
    per_user = {row["owner"]: row for row in report.spend_by("owner")}
    cost = store.list_runs(owner=ALICE.id)[0].results[0].cost_usd
    assert per_user[ALICE.id]["spend (USD)"] == cost and per_user[BOB.id]["spend (USD)"] == 2 * cost
    assert per_user[BOB.id]["calls"] == 2 and per_user[BOB.id]["runs"] == 2 and report.total_usd == 3 * cost
    assert report.spend_by("model")[0]["model"] == "paid"


def test_hardening_names_every_setting_that_is_wrong():
    good = {name: wanted for name, (wanted, _) in REQUIRED_OPTIONS.items()}
    good |= {"server.maxUploadSize": 10, "server.address": "127.0.0.1"}
    auth = dict.fromkeys(
        ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"), "x"
    )
    assert hardening_problems(good, auth) == []
    bad = good | {"server.enableCORS": False, "server.maxUploadSize": 200, "server.address": ""}
    problems = hardening_problems(bad, {"client_id": "x"})
    assert any(
        "cross-origin access must be refused (CORS protection on): set server.enableCORS = true" in p
        for p in problems
    )
    assert any("server.maxUploadSize (it is 200)" in p for p in problems)
    assert any("server.address" in p for p in problems)
    assert any(re.search(r"\[auth\] with redirect_uri, cookie_secret, client_secret", p) for p in problems)


def test_the_repo_config_passes_the_hardening_check_but_for_the_address_and_login():
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    options = {
        f"{section}.{key}": value for section, values in config.items() for key, value in values.items()
    }
    problems = hardening_problems(options, None)
    assert len(problems) == 2 and "server.address" in problems[0] and "login" in problems[1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PLAYGROUND_USER_DAILY_USD": "NaN"}, "PLAYGROUND_USER_DAILY_USD must be a finite amount"),
        ({"PLAYGROUND_USER_DAILY_USD": "-1"}, "at least 0 USD"),
        ({"PLAYGROUND_MAX_TOKENS": "lots"}, "PLAYGROUND_MAX_TOKENS must be a whole number"),
        ({"PLAYGROUND_MAX_CONCURRENT_RUNS": "0"}, "PLAYGROUND_MAX_CONCURRENT_RUNS must be at least 1"),
    ],
)
def test_a_bad_hosted_setting_is_named(env: dict[str, str], message: str):
    with pytest.raises(HostingConfigError, match=message):
        HostedPolicy.from_env({"PLAYGROUND_HOSTED": "1", **env})


def test_a_model_a_user_added_never_uses_a_server_key_in_hosted_mode():
    hub_find = ModelSpec(key="hub:x", provider="huggingface", model="x", api_key_env="HF_TOKEN", source="hub")
    server = {"HF_TOKEN": "server-token"}
    assert api_key(hub_find, Keyring(server=server)) == "server-token"  # a local app: the operator's own
    with pytest.raises(MissingKeyError, match="needs your own key: set HF_TOKEN in Settings"):
        api_key(hub_find, Keyring(server=server, hosted=True))
    assert api_key(hub_find, Keyring(visitor={"HF_TOKEN": "mine"}, server=server, hosted=True)) == "mine"


def test_user_urls_go_through_the_egress_guard_and_admin_urls_do_not(scripted: ScriptedServer):
    from playground.core import EndpointError, build_request, custom_endpoint_spec
    from playground.engine import build_provider
    from playground.engine.runner import run_model

    closed = HostedPolicy(enabled=True)
    with pytest.raises(EndpointError, match="allows no endpoints of your own"):
        closed.check_user_url("https://api.example.com/v1")
    policy = HostedPolicy(enabled=True, allowed_endpoint_hosts=frozenset({"*"}))
    policy.check_user_url("https://api.example.com/v1")
    for spelling in ("http://127.0.0.1:9/v1", "http://2130706433/v1", "http://[::ffff:127.0.0.1]/v1"):
        with pytest.raises(EndpointError, match="loopback"):
            policy.check_user_url(spelling)
    HostedPolicy().check_user_url("http://127.0.0.1:9/v1")  # a local app: the user's own machine

    keys = Keyring(server={"ADMIN_KEY": "k"}, egress=policy.egress(), hosted=True)
    users = custom_endpoint_spec("mine", scripted.url("ok~tokens=2"), "m")
    admins = priced(scripted)["paid"]
    scripted.requests.clear()
    refused = run_model(
        users, build_provider(users, keys), build_request(users, "hi", None, Params()), timeout_s=10
    )
    assert refused.error.kind == "egress_refused" and scripted.requests == []
    trusted = run_model(
        admins, build_provider(admins, keys), build_request(admins, "hi", None, Params()), timeout_s=10
    )
    assert trusted.ok and len(scripted.requests) == 1


def test_a_run_without_a_signed_in_user_is_refused_in_hosted_mode(scripted: ScriptedServer):
    # The Catalog's "Try it" once ran without a user or gate: any such call site is now refused.
    message = refused_with_no_request(
        scripted, lambda: Comparison(plan_for(priced(scripted)), Store(), gate=Gate(hosted()))
    )
    assert "needs a signed-in user" in message


def test_a_comparison_that_never_started_frees_its_place(scripted: ScriptedServer):
    gate = Gate(hosted(concurrent_runs=1))
    comparison = Comparison(plan_for(priced(scripted)), Store(), user=ALICE, gate=gate)
    assert len(gate.going(ALICE)) == 1
    comparison.cancel_and_collect(wait_s=0.1)  # the page was rerun before it read any event
    assert gate.going(ALICE) == []


def test_five_models_are_not_capped_by_the_evaluation_concurrency(scripted: ScriptedServer):
    specs = {f"m{i}": replace(priced(scripted)["paid"], key=f"m{i}") for i in range(5)}
    plan = plan_for(specs, max_tokens=5)
    comparison = Comparison(plan, Store(), user=ALICE, gate=Gate(hosted(eval_concurrency=4)))
    list(comparison.events())
    assert len(comparison.results) == 5


def test_deleting_a_running_run_keeps_its_spend(scripted: ScriptedServer, db_url: str):
    store = Store(db_url)
    slow = priced(scripted, "ok~tokens=3~gap=0.3~usage=1")
    comparison = Comparison(plan_for(slow, max_tokens=10), store, user=ALICE, gate=Gate(hosted()))
    events = comparison.events()
    next(events)  # it is going
    assert store.delete_run(comparison.run_id, owner=ALICE.id) is True
    list(events)
    comparison.store.writer.save(
        "flush", lambda session: None, 10
    )  # the writer is in order: all before it done
    assert (
        store.spent_since(ALICE.id, datetime.now(UTC) - timedelta(hours=1))
        == comparison.results[0].cost_usd
        > 0
    )


def test_a_stopped_evaluation_keeps_the_spend_of_its_cancelled_calls(scripted: ScriptedServer):
    store = evaluation_store(Store())
    specs = priced(scripted, "ok~tokens=20~gap=0.1~usage=1")
    rows = tuple({"q": f"q{i}", "expected": "a"} for i in range(3))
    setup = EvalSetup(template="{q}", models=("paid",), metrics=(MetricChoice("contains"),), concurrency=3)
    keys = Keyring(server={"ADMIN_KEY": "k"}, hosted=True)
    evaluation = Evaluation(
        setup, Dataset("d", ("q", "expected"), rows), specs, store, keys=keys, user=ALICE, gate=Gate(hosted())
    )
    run = evaluation.run()
    threading.Timer(0.6, evaluation.cancel).start()  # Stop, while every call is streaming
    assert list(run) == []  # no cell finished, so none is saved ...
    store.store.writer.save("flush", lambda session: None, 10)
    ledger = usage_report(store.store, days=1).records
    assert len(ledger) == 3 and {r.error_kind for r in ledger} == {"cancelled"}  # ... but every call is paid
    assert store.store.spent_since(ALICE.id, datetime.now(UTC) - timedelta(hours=1)) > 0


def test_resume_is_checked_against_the_cells_left(scripted: ScriptedServer):
    store = evaluation_store(Store())
    specs = priced(scripted, "ok~tokens=3~gap=0.2~usage=1")  # slow enough to stop the 4th mid-answer
    rows = tuple({"q": f"q{i}", "expected": "a"} for i in range(4))
    setup = EvalSetup(template="{q}", models=("paid",), metrics=(MetricChoice("contains"),), concurrency=1)
    keys = Keyring(server={"ADMIN_KEY": "k"}, hosted=True)
    first = Evaluation(
        setup, Dataset("d", ("q", "expected"), rows), specs, store, keys=keys, user=ALICE, gate=Gate(hosted())
    )
    run = first.run()
    next(run), next(run), next(run)  # 3 of 4 cells done
    run.close()
    resumed = Evaluation.resume(
        first.eval_id, specs, store, keys=keys, user=ALICE, gate=Gate(hosted(eval_calls=1))
    )
    assert [done.cell.row_index for done in resumed.run()] == [3]
    with pytest.raises(Exception, match="of yours"):
        Evaluation.resume(first.eval_id, specs, store, keys=keys, user=BOB, gate=Gate(hosted()))


def test_a_row_that_breaks_the_template_is_its_own_error(scripted: ScriptedServer):
    store = evaluation_store(Store())
    rows = ({"q": "2", "expected": "5"}, {"q": "0", "expected": "x"})
    setup = EvalSetup(template="{{ 10 // (q|int) }}", models=("paid",), metrics=(MetricChoice("contains"),))
    keys = Keyring(server={"ADMIN_KEY": "k"}, hosted=True)
    evaluation = Evaluation(
        setup,
        Dataset("d", ("q", "expected"), rows),
        priced(scripted),
        store,
        keys=keys,
        user=ALICE,
        gate=Gate(hosted()),
    )
    cells = {c.cell.row_index: c.cell for c in evaluation.run()}
    assert cells[0].result.ok and cells[1].result.error.kind == "template"
    assert "by zero" in cells[1].result.error.message


def test_an_unverified_email_never_names_an_admin():
    policy = HostedPolicy(enabled=True, admins=frozenset({"boss@example.com"}))
    claims = {"iss": "https://id.example", "sub": "x", "email": "boss@example.com"}
    assert not policy.is_admin(User.from_claims(claims))
    assert policy.is_admin(User.from_claims({**claims, "email_verified": True}))


def test_report_days_are_utc_whatever_the_server_zone(monkeypatch: pytest.MonkeyPatch):
    import time

    from playground.hosting.report import UsageReport
    from playground.storage.runs import UsageRecord

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        naive_utc = datetime(2026, 11, 29, 0, 30)  # as SQLite hands it back
        record = UsageRecord("u", naive_utc, "run", "r", "m", Decimal("1"), "override", None)
        assert UsageReport(naive_utc, [record], {}).spend_by("day")[0]["day"] == "2026-11-29"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_playground_serve_refuses_to_start_an_unhardened_hosted_instance(tmp_path: Path):
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "playground",
        "serve",
        f"--server.port={port}",
        "--server.enableCORS=false",
    ]
    env = {**os.environ, "PLAYGROUND_HOSTED": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "refuses to start" in proc.stderr
    assert "set server.enableCORS = true (it is false)" in proc.stderr and "set server.address" in proc.stderr
    assert "needs [auth]" in proc.stderr


def test_a_judge_call_is_priced_with_the_expected_answer_it_reads(scripted: ScriptedServer):
    # A probe's 50,000-word expected answer made the real judge call cost 128 times the admitted estimate.
    store = evaluation_store(Store())
    specs = {**priced(scripted), "judge": replace(priced(scripted)["paid"], key="judge")}
    setup = EvalSetup(
        template="{q}",
        models=("paid",),
        metrics=(MetricChoice("judge"),),
        judge="judge",
        params=Params(max_tokens=5),
    )
    keys = Keyring(server={"ADMIN_KEY": "k"}, hosted=True)
    small, big = ({"q": "hi", "expected": size * "word "} for size in (1, 50_000))
    asks = [
        Evaluation(setup, Dataset("d", ("q", "expected"), (row,)), specs, store, keys=keys, user=ALICE).ask()
        for row in (small, big)
    ]
    assert asks[1].max_cost_usd - asks[0].max_cost_usd > Decimal(
        "0.04"
    )  # ~50,000 more tokens at 1000 USD/Mtok
