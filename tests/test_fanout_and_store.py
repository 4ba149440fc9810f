"""Fan-out concurrency, error isolation, cancel; history in SQLite; keys never stored."""

from __future__ import annotations

import threading
import time

from playground.compare.service import Comparison, plan_comparison
from playground.compare.stats import spread, spread_by_model
from playground.core.params import Params
from playground.core.specs import load_specs
from playground.engine.fanout import Delta, Done, FanOut, Job
from playground.engine.registry import build_provider
from playground.storage.runs import Store
from providers.base import ChatRequest, Message
from tests.conftest import closed_port_url, remote_spec

REQUEST = ChatRequest(messages=(Message("user", "hi"),), max_tokens=200)


def job(url: str, key: str, repeat: int = 1) -> Job:
    spec = remote_spec(url, key=key)
    return Job(spec, build_provider(spec, {}), REQUEST, timeout_s=10, repeat=repeat)


def test_models_run_concurrently(scripted):
    jobs = [job(scripted.url(f"ok~ttft=0.5~tokens=2~id={i}"), f"m{i}") for i in range(4)]
    started = time.perf_counter()
    results = [e.result for e in FanOut(jobs).events() if isinstance(e, Done)]
    wall = time.perf_counter() - started
    assert sorted(r.model for r in results) == ["m0", "m1", "m2", "m3"]
    assert all(r.ok for r in results)
    assert wall < 1.5  # four 0.5 s models: about the slowest one, far from the 2 s sum


def test_one_failure_or_hang_does_not_stop_the_others(scripted):
    jobs = [
        job(scripted.url("ok~tokens=3~gap=0.05"), "good"),
        job(closed_port_url(), "refused"),
        job(scripted.url("malformed"), "garbage"),
        Job(
            remote_spec(scripted.url("hang"), key="hung"),
            build_provider(remote_spec(scripted.url("hang")), {}),
            REQUEST,
            timeout_s=1.0,
        ),
    ]
    events = list(FanOut(jobs).events())
    done = {e.model: e.result for e in events if isinstance(e, Done)}
    assert done["good"].ok and done["good"].text == "word0 word1 word2 "
    assert done["refused"].error.kind == "connection"
    assert done["garbage"].error.kind == "bad_response"
    assert done["hung"].error.kind == "timeout"
    deltas = [e for e in events if isinstance(e, Delta) and e.model == "good"]
    assert len(deltas) == 3  # streamed live, chunk by chunk


def test_live_text_is_merged_but_first_text_and_whole_answer_are_not_held(scripted):
    fast = job(scripted.url("ok~ttft=0.2~tokens=40~gap=0.01"), "fast")
    slow = job(scripted.url("ok~ttft=0.05~tokens=3~gap=0.3"), "slow")
    started = time.perf_counter()
    seen: dict[str, list[tuple[float, str]]] = {"fast": [], "slow": []}
    done = {}
    for event in FanOut([fast, slow]).events(every_s=0.1):
        if isinstance(event, Delta):
            seen[event.model].append((time.perf_counter() - started, event.text))
        elif isinstance(event, Done):
            done[event.model] = event.result
    for model in ("fast", "slow"):
        assert "".join(text for _, text in seen[model]) == done[model].text  # nothing lost or reordered
    assert seen["fast"][0][1] == "word0 "  # the first text is shown at once, alone
    assert 3 <= len(seen["fast"]) <= 8  # 40 tokens over ~0.4 s redrawn every 0.1 s, not 40 times
    assert len(seen["slow"]) == 3  # tokens 0.3 s apart are each shown when they arrive
    assert seen["slow"][1][0] - seen["slow"][0][0] < 0.45


def test_cancel_keeps_partial_text(scripted):
    fan = FanOut([job(scripted.url("ok~tokens=50~gap=0.1"), "slow")])
    results = []
    for event in fan.events():
        if isinstance(event, Delta) and event.text == "word2 ":
            threading.Thread(target=fan.cancel).start()
        if isinstance(event, Done):
            results.append(event.result)
    (result,) = results
    assert result.finish_reason == "cancelled"
    assert result.error.kind == "cancelled"
    assert result.text.startswith("word0 word1 word2 ")
    assert len(result.text.split()) < 50


def test_repeat_reports_spread(scripted):
    results = [
        e.result
        for e in FanOut([job(scripted.url("ok~ttft=0.1~tokens=3~gap=0.02"), "r", repeat=4)]).events()
        if isinstance(e, Done)
    ]
    assert [r.repeat_index for r in results] == [0, 1, 2, 3]
    summary = spread_by_model(results)["r"]
    assert summary["ttft_s"].n == 4
    assert summary["ttft_s"].min <= summary["ttft_s"].p50 <= summary["ttft_s"].p90 <= summary["ttft_s"].max


def test_spread_matches_known_values():
    s = spread([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert (s.min, s.p50, s.max) == (1.0, 5.5, 10.0)
    assert s.p90 == 9.1  # linear interpolation, inclusive
    assert spread([]) is None


def test_comparison_saves_every_result_before_showing_it(scripted, db_url):
    specs = {
        "a": remote_spec(scripted.url("ok~tokens=2"), key="a"),
        "b": remote_spec(closed_port_url(), key="b"),
    }
    store = Store(db_url)
    plan = plan_comparison("hello", ["a", "b"], specs, params=Params(max_tokens=8))
    comparison = Comparison(plan, store)
    for event in comparison.events():
        if isinstance(event, Done):
            saved = store.get_run(comparison.run_id)
            assert event.model in [r.model for r in saved.results]
    stored = store.get_run(comparison.run_id)
    assert stored.prompt == "hello"
    by_model = {r.model: r for r in stored.results}
    assert by_model["a"].text == "word0 word1 " and by_model["a"].ok
    assert by_model["b"].error.kind == "connection"


def test_history_list_filter_delete(db_url):
    store = Store(db_url)
    from playground.core.results import RunResult

    first = store.create_run("about cats", ["x"], {"temperature": 0.1})
    store.add_result(first, RunResult(model="x", text="meow", run_id=first))
    second = store.create_run("about dogs", ["y"], {})
    store.add_result(second, RunResult(model="y", text="woof", run_id=second))
    assert [r.id for r in store.list_runs()] == [second, first]
    assert [r.id for r in store.list_runs(model="x")] == [first]
    # Part of a key, any case, and a run that saved no answer matches on the models it asked.
    third = store.create_run("about birds", ["gemma3-270m", "smollm2-135m"], {})
    assert [r.id for r in store.list_runs(model="GEMMA")] == [third]
    assert [r.id for r in store.list_runs(model="3-2")] == [third]
    assert store.list_runs(model="%") == [] and store.list_runs(text="_") == []  # wildcards are literal
    store.delete_run(third)
    assert [r.id for r in store.list_runs(text="woof")] == [second]
    assert [r.id for r in store.list_runs(text="CATS")] == [first]
    assert store.delete_run(first) is True
    assert store.get_run(first) is None
    assert store.delete_run(first) is False


def test_no_key_reaches_the_database_or_logs(scripted, clean_env, monkeypatch, caplog):
    secret = "sk-test-THISISASECRETKEY0123456789"
    monkeypatch.setenv("MY_TEST_KEY", secret)
    specs = {
        "ok": remote_spec(scripted.url("ok~tokens=2"), key="ok", api_key_env="MY_TEST_KEY"),
        "bad": remote_spec(scripted.url("status~code=401~echo=1"), key="bad", api_key_env="MY_TEST_KEY"),
    }
    caplog.set_level("DEBUG")
    plan = plan_comparison("hello", ["ok", "bad"], specs)
    comparison = Comparison(plan, Store())
    results = [e.result for e in comparison.events() if isinstance(e, Done)]
    assert {r.model for r in results} == {"ok", "bad"}
    data = clean_env.read_bytes() + b"".join(p.read_bytes() for p in clean_env.parent.glob("history.db-*"))
    assert b"THISISASECRETKEY" not in data
    assert "THISISASECRETKEY" not in caplog.text


def test_local_models_side_by_side(clean_env):
    specs = load_specs()
    plan = plan_comparison(
        "Name three colors",
        ["smollm2-135m", "gemma3-270m"],
        specs,
        params=Params(max_tokens=16, temperature=0),
    )
    comparison = Comparison(plan, Store())
    results = {e.model: e.result for e in comparison.events() if isinstance(e, Done)}
    assert set(results) == {"smollm2-135m", "gemma3-270m"}
    for result in results.values():
        assert result.ok and result.text.strip() and result.usage_source == "counted"
