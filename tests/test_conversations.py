"""Conversations: a follow-up sends each model its own earlier turns; the CLI's --continue, the Compare
page's Follow up, History and View code show the whole conversation; overflow is refused before sending."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from playground.cli.main import app as cli_app
from playground.compare import (
    Comparison,
    Conversation,
    UsageError,
    plan_comparison,
    plan_follow_up,
    replay_requests,
)
from playground.core.params import Params
from playground.core.results import CallError, RunResult
from playground.engine import Done
from playground.storage.runs import Store
from tests.apptest_runs import click_run, follow_to_end
from tests.conftest import remote_spec

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def scripted_specs(scripted, **scenarios: str) -> dict:
    return {key: remote_spec(scripted.url(scenario), key=key) for key, scenario in scenarios.items()}


def compared_on_the_page(scripted, prompt: str, **scenarios: str) -> AppTest:
    """The Compare page after one run of `prompt` on scripted session models (key=scenario)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["custom_specs"] = scripted_specs(scripted, **scenarios)
    at.run()
    at.text_area(key="prompt").input(prompt)
    at.multiselect(key="models").set_value(list(scenarios))
    at.run()
    return click_run(at)


def run_turn(plan, store: Store) -> list[RunResult]:
    comparison = Comparison(plan, store)
    return [e.result for e in comparison.events() if isinstance(e, Done)]


def sent_messages(scripted, scenario: str) -> list[list[dict]]:
    return [r["body"]["messages"] for r in scripted.requests if r["path"].startswith(f"/{scenario}/")]


def test_each_model_continues_its_own_conversation(scripted, db_url):
    store = Store(db_url)
    specs = scripted_specs(scripted, a="echo", b="ok~tokens=2")
    first = plan_comparison(
        "my name is Ada", ["a", "b"], specs, system="Be brief.", params=Params(max_tokens=20), timeout_s=30
    )
    run_turn(first, store)
    run_id = store.list_runs()[0].id
    follow = plan_follow_up(Conversation(store.conversation(run_id)), "what is my name?", specs)
    assert follow.parent_id == run_id and follow.system == "Be brief." and follow.params.max_tokens == 20
    assert all(m.spec.deadline_s == 30 for m in follow.models)  # the conversation's deadline goes on
    run_turn(follow, store)
    # a was sent its own answer (the echo), b its own ("word0 word1 "), each after the first prompt.
    assert sent_messages(scripted, "echo")[-1] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "my name is Ada "},
        {"role": "user", "content": "what is my name?"},
    ]
    assert sent_messages(scripted, "ok~tokens=2")[-1][2] == {"role": "assistant", "content": "word0 word1 "}
    second = store.list_runs()[0]
    assert second.parent_id == run_id
    conversation = Conversation(store.conversation(second.id))
    assert [t.prompt for t in conversation.turns] == ["my name is Ada", "what is my name?"]
    # View code repeats the second turn exactly as sent: the earlier turn first.
    (spec, request), _ = replay_requests(second, specs, conversation)
    assert [m.content for m in request.messages] == [
        "Be brief.", "my name is Ada", "my name is Ada ", "what is my name?"
    ]  # fmt: skip
    # Deleting the first turn deletes the follow-up that continues it.
    assert [r.id for r in store.follow_ups(run_id)] == [second.id]
    store.finish_run(second.id)
    assert store.delete_run(run_id)
    assert store.get_run(second.id) is None


def test_a_later_turn_past_the_context_window_is_refused_before_sending(scripted, clean_env):
    store = Store()
    specs = {"small": remote_spec(scripted.url("echo"), key="small", context_window=90)}
    # 57 tokens with its framing: it fits once (+ 16 max output), not twice with its echo (cut at 16 tokens)
    long_prompt = " ".join(f"word{i}" for i in range(25))
    run_turn(plan_comparison(long_prompt, ["small"], specs, params=Params(max_tokens=16)), store)
    sent = len(scripted.requests)
    conversation = Conversation(store.conversation(store.list_runs()[0].id))
    with pytest.raises(UsageError) as refused:
        plan_follow_up(conversation, "and again?", specs)
    message = str(refused.value)
    assert (
        "small: prompt is" in message
        and "16 max output tokens" in message
        and "90-token context window" in message
    )
    assert len(scripted.requests) == sent  # nothing was sent


def test_a_model_whose_answer_failed_is_left_out_and_says_why(scripted, clean_env):
    store = Store()
    specs = scripted_specs(scripted, ok="ok~tokens=2", bad="status~code=500")
    run_turn(plan_comparison("hi", ["ok", "bad"], specs), store)
    conversation = Conversation(store.conversation(store.list_runs()[0].id))
    plan = plan_follow_up(conversation, "more", specs)
    assert [m.spec.key for m in plan.models] == ["ok"]
    assert "its last answer failed" in plan.left_out["bad"]


def test_totals_sum_each_models_turns_and_never_call_a_partly_priced_sum_a_price():
    def run(run_id: str, prompt: str, cost: str | None) -> object:
        from playground.storage.runs import StoredRun

        result = RunResult(
            model="m", text="x", input_tokens=10, output_tokens=5, run_id=run_id,
            cost_usd=Decimal(cost) if cost else None, cost_source="override" if cost else "unknown",
        )  # fmt: skip
        return StoredRun(run_id, None, "compare", prompt, None, {}, ["m"], [result])  # type: ignore[arg-type]

    priced = Conversation([run("1", "a", "0.001"), run("2", "b", "0.002")]).totals()
    assert priced[0].cost_usd == Decimal("0.003") and priced[0].input_tokens == 20 and priced[0].turns == 2
    assert "0.003 USD (override)" in priced[0].line()
    partly = Conversation([run("1", "a", "0.001"), run("2", "b", None)]).totals()[0]
    assert partly.cost_usd is None and partly.cost_source == "partly unknown"
    cancelled = RunResult(model="m", text="half", error=CallError("cancelled", "stopped by the user"))
    from playground.compare.conversation import usable_answer

    assert usable_answer(cancelled) and not usable_answer(
        RunResult(model="m", error=CallError("timeout", "x"))
    )


def test_cli_continue_sends_the_next_turn_and_prints_the_totals(scripted, tmp_path, clean_env):
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.echo]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo")}"\n'
    )
    runner = CliRunner()
    first = runner.invoke(
        cli_app, ["run", "hello there", "-m", "echo", "--json", "--models-file", str(models)]
    )
    assert first.exit_code == 0, first.output
    run_id = json.loads(first.stdout.splitlines()[0])["run_id"]
    second = runner.invoke(cli_app, ["run", "--continue", run_id, "next one", "--models-file", str(models)])
    assert second.exit_code == 0, second.output
    assert "conversation so far (2 turns):" in second.stdout and "echo: 2 turns" in second.stdout
    assert [m["content"] for m in sent_messages(scripted, "echo")[-1]] == [
        "hello there",
        "hello there ",
        "next one",
    ]
    refused = runner.invoke(
        cli_app, ["run", "--continue", run_id, "x", "-m", "echo", "--models-file", str(models)]
    )
    assert refused.exit_code == 2 and "leave out -m" in refused.output
    missing = runner.invoke(cli_app, ["run", "--continue", "f" * 32, "x", "--models-file", str(models)])
    assert missing.exit_code == 2 and "no run" in missing.output


def test_the_compare_page_follows_up_and_history_shows_the_whole_conversation(scripted, clean_env):
    at = compared_on_the_page(scripted, "first question", echo="echo", two="ok~tokens=2")
    first_id = Store().list_runs()[0].id
    box = next(t for t in at.text_area if t.label == "Follow up")
    box.input("second question").run()
    at.button(key="follow-up").click().run()
    follow_to_end(at)
    assert not at.exception, at.exception
    markdown = " ".join(m.value for m in at.markdown)
    assert "Turn 1:** first question" in markdown and "Turn 2:** second question" in markdown
    assert "second question" in markdown  # the echo of the second turn
    totals = next(c.value for c in at.caption if c.value.startswith("Conversation so far"))
    assert "echo: 2 turns" in totals and "two: 2 turns" in totals
    echo_code = next(c.value for c in at.code if "second question" in c.value and "client" in c.value)
    # The whole message list, in order: the first prompt, echo's own first answer, the second prompt.
    order = [
        echo_code.index(t)
        for t in ("'content': 'first question'", "'role': 'assistant'", "'content': 'second question'")
    ]
    assert order == sorted(order)
    # A third turn box, fresh; History opens the last turn with the earlier one above it.
    assert next(t for t in at.text_area if t.label == "Follow up").value in ("", None)
    second = Store().list_runs()[0]
    assert second.parent_id == first_id
    at.switch_page("pages/history.py")
    at.run()
    table = at.dataframe[0].value
    assert list(table["turn"]) == [f"2 (follows {first_id[:8]})", "1"]
    at.selectbox(key="h-open").set_value(second.id).run()
    markdown = " ".join(m.value for m in at.markdown)
    assert "Turn 1:** first question" in markdown and "Turn 2:** second question" in markdown
    at.selectbox(key="h-open").set_value(first_id).run()
    assert at.button(key="h-delete").label == "Delete this run and its 1 follow-up(s)"


def test_history_refuses_to_delete_a_run_whose_follow_up_is_running(scripted, clean_env):
    store = Store()
    specs = scripted_specs(scripted, quick="ok~tokens=2", slow="ok~tokens=200~gap=0.05")
    run_turn(plan_comparison("first", ["quick"], specs), store)
    first = store.list_runs()[0].id
    follow = plan_follow_up(Conversation(store.conversation(first)), "second", specs)
    going = Comparison(replace_models(follow, specs["slow"]), store)
    events = going.events()
    next(events)  # it has started
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/history.py")
    at.run()
    at.selectbox(key="h-open").set_value(first).run()
    assert "h-delete" not in [b.key for b in at.button]
    assert any("A follow-up of it is still running" in c.value for c in at.caption)
    going.cancel()
    list(events)
    assert store.get_run(first) is not None


def replace_models(plan, spec):
    """The plan with its one model's calls sent to `spec`'s server instead (a slow one)."""
    from dataclasses import replace

    from playground.engine.registry import build_provider

    (model,) = plan.models
    return replace(plan, models=[replace(model, provider=build_provider(spec))])


def test_a_model_gone_from_the_page_is_named_as_left_out(scripted, clean_env):
    at = compared_on_the_page(scripted, "hello", one="ok~tokens=2", gone="ok~tokens=2")
    del at.session_state["custom_specs"]["gone"]  # a session model that is no longer there
    at.run()
    assert any(
        "gone will not continue: it is not among this app's models any more" in c.value for c in at.caption
    )


def test_a_live_run_whose_thread_breaks_says_so(scripted, clean_env, monkeypatch):
    from playground.compare import live_runs
    from playground.compare.live import LiveRun

    def broken(self, event):
        raise RuntimeError("the consumer broke")

    monkeypatch.setattr(LiveRun, "_apply", broken)  # a fault in the run's own thread
    specs = scripted_specs(scripted, slow="ok~tokens=100~gap=0.05")
    live = live_runs().start(Comparison(plan_comparison("hi", ["slow"], specs), Store()), "local")
    deadline = __import__("time").monotonic() + 30
    while not live.snapshot().finished:
        assert __import__("time").monotonic() < deadline
        __import__("time").sleep(0.05)
    snapshot = live.snapshot()
    assert snapshot.failed == "RuntimeError: the consumer broke"
    assert live.comparison._fanout.cancel_token.cancelled  # its models were stopped, not left unread
