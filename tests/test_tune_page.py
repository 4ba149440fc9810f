"""The Tune page through AppTest, against the scripted server's fine-tuning API: a bad file's lines named,
a good one checked, a job started, followed to its end with its loss curve, its tuned model added to the
session and compared with its base on the held-out split."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.core.specs import ModelSpec
from tests.test_tuning import chat_line

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def tune_page(url: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["custom_specs"] = {
        "page-base": ModelSpec(
            key="page-base",
            provider="openai",
            model="gpt-4o-mini-2024-07-18",
            base_url=url,
            api_key_env="TUNE_PAGE_KEY",
            context_window=4096,
            fine_tunable=True,
            price_training_per_mtok=Decimal("3"),
            price_input_per_mtok=Decimal("1"),
            price_output_per_mtok=Decimal("2"),
            source="session",
        )
    }
    at.session_state["api_keys"] = {"TUNE_PAGE_KEY": "sk-page"}
    at.run()
    at.switch_page("pages/tune.py").run()
    assert not at.exception, at.exception
    return at


def test_a_bad_file_names_its_lines_and_cannot_start(scripted):
    at = tune_page(scripted.url("tune~id=page-bad"))
    at.selectbox(key="tune-model").set_value("page-base")
    lines = [chat_line("q", "a"), "{oops", json.dumps({"messages": [{"role": "user", "content": "q"}]})]
    at.text_area(key="tune-paste").input("\n".join(lines)).run()
    at.button(key="tune-check-run").click().run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert list(table["line"]) == [2, 3] and "not JSON" in table["problem"][0]
    assert at.button(key="tune-start").disabled
    assert any("2 bad line(s)" in w.value for w in at.warning)


def test_a_job_is_started_followed_to_its_loss_curve_added_and_compared_with_its_base(scripted):
    at = tune_page(scripted.url("tune~steps=2~id=page"))
    at.selectbox(key="tune-model").set_value("page-base")
    lines = [chat_line(f"say word{i}", f"say word{i}") for i in range(20)]
    at.text_area(key="tune-paste").input("\n".join(lines)).run()
    at.slider(key="tune-holdout").set_value(0.2).run()
    at.button(key="tune-check-run").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training examples"] == "16" and metrics["Held out"] == "4"
    check = at.session_state["tune-check"]
    assert check.cost.usd == Decimal(check.billed_tokens) * 3 / 1_000_000
    assert (
        metrics["Estimated cost"] == f"${check.cost.usd:.4f}"
        and metrics["Tokens trained"] == f"{check.billed_tokens:,}"
    )
    at.button(key="tune-start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(" is validating" in s.value for s in at.success)
    for _ in range(6):  # each page run follows the jobs still going
        at.run()
    assert not at.exception, at.exception
    assert "succeeded" in " ".join(m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    assert any("Training loss per step" in c.value for c in at.caption)
    [job_key] = [b.key for b in at.button if b.key.startswith("tune-add-")]
    at.button(key=job_key).click().run()
    tuned = [k for k in at.session_state["custom_specs"] if k.startswith("page-base+")]
    assert tuned and at.session_state["custom_specs"][tuned[0]].model.startswith(
        "ft:gpt-4o-mini-2024-07-18:scripted"
    )
    at.button(key=job_key.replace("tune-add-", "tune-versus-")).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    reading = " ".join(m.value for m in at.markdown)
    assert "contains" not in reading and "+1.000" in reading and "4 examples" in reading
    table = next(d.value for d in at.dataframe if "95% interval" in d.value.columns)
    assert list(table["quasi_exact_match"]) == [0.0, 1.0]


def test_a_going_job_is_cancelled_from_the_page_and_keeps_its_events(scripted):
    at = tune_page(scripted.url("tune~steps=50~id=page-cancel"))
    at.selectbox(key="tune-model").set_value("page-base")
    at.text_area(key="tune-paste").input("\n".join(chat_line(f"q{i}", f"a{i}") for i in range(12))).run()
    at.button(key="tune-check-run").click().run()
    at.button(key="tune-start").click().run()
    at.run()  # followed again: running, a first step
    [cancel] = [b for b in at.button if b.key.startswith("tune-cancel-")]
    cancel.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "cancelled" in " ".join(m.value for m in at.markdown)
    events = " ".join(t.value for t in at.text)
    assert "Fine-tuning job started" in events and "Job was cancelled." in events
    assert not [b for b in at.button if b.key.startswith("tune-cancel-")]  # nothing more to cancel


def test_a_local_lora_is_trained_followed_listed_and_compared_with_its_base(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("PLAYGROUND_TUNED_DIR", str(tmp_path / "tuned"))
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("pages/tune.py").run()
    at.text_input(key="lora-name").input("page-style")
    at.number_input(key="lora-steps").set_value(3)
    at.button(key="lora-start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.button(key="lora-start").disabled  # one job at a time in a session
    deadline = time.monotonic() + 600
    while not at.success and not at.warning:  # the fragment's timer, as AppTest has none
        assert time.monotonic() < deadline, [c.value for c in at.caption]
        time.sleep(1)
        at.run()
    assert [s.value for s in at.success] == [
        "page-style: finished after 3 steps. " + at.success[0].value.split(". ", 1)[1]
    ]
    assert (tmp_path / "tuned" / "page-style" / "adapter.gguf").exists()
    assert at.selectbox(key="lora-versus-model").value == "smollm2-135m+page-style"
    at.button(key="lora-versus").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [table] = [d.value for d in at.dataframe if "regex" in d.value.columns]
    assert list(table["model"]) == ["smollm2-135m", "smollm2-135m+page-style"]
    assert any("smollm2-135m+page-style − smollm2-135m on regex" in m.value for m in at.markdown)
    # The tuned model is a model of every page: Compare offers it.
    at.switch_page("pages/compare.py").run()
    assert "llamacpp · smollm2-135m+page-style" in at.multiselect(key="models").options
