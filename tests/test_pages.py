"""Pages through streamlit.testing.v1.AppTest: compare on local models, errors, history, settings, ?run=."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.results import RunResult
from playground.specs import ModelSpec
from playground.store import Store
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
    assert at.button(key="run").disabled  # nothing to send yet


def test_compare_flow_on_local_models():
    at = app().run()
    at.text_area(key="prompt").input("Name three colors")
    at.number_input(key="max_tokens").set_value(16)
    at.run()
    assert not at.error, [e.value for e in at.error]
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("TTFT") >= 2 and "(counted)" in captions and "local (no price)" in captions
    assert "Run saved" in captions
    plotly = at.get("plotly_chart")
    assert len(plotly) >= 4
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
    at.button(key="run").click().run()
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
    assert at.button(key="run").disabled


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
