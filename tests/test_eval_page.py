"""The Evaluate page through AppTest: upload, run, summary, matrix, charts, bad files, stop and resume."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.evals.datasets import Dataset
from playground.evals.metrics import MetricChoice
from playground.evals.runner import EvalSetup, Evaluation
from playground.storage.evals import EvalStore
from playground.storage.runs import Store
from tests.conftest import remote_spec

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def evaluate_page(custom: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if custom:
        at.session_state["custom_specs"] = custom
    at.switch_page("pages/evaluate.py")
    return at.run()


def test_upload_run_summary_matrix_and_charts(scripted):
    at = evaluate_page({"echo": remote_spec(scripted.url("echo"), key="echo", source="session")})
    assert not at.exception, at.exception
    at.radio(key="ev-source").set_value("Upload CSV or JSONL").run()
    data = b"question,expected\nWhat is the capital of France?,France\nName a colour,colour\n"
    at.file_uploader(key="ev-upload").upload("mine.csv", data, "text/csv").run()
    assert not at.error, [e.value for e in at.error]
    at.text_area(key="ev-template-mine.csv").input("{question}")
    at.multiselect(key="ev-models").set_value(["echo", "smollm2-135m"])
    at.multiselect(key="ev-metrics-mine.csv").set_value(["contains", "rouge_l"])
    at.number_input(key="ev-max-mine.csv").set_value(16)
    at.run()
    at.button(key="ev-run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    frames = [d.value for d in at.dataframe]
    summary = next(f for f in frames if "call errors" in f.columns)
    matrix = next(f for f in frames if "input" in f.columns)
    echo = summary[summary["model"] == "echo"].iloc[0]
    assert echo["contains"].startswith("1.00") and echo["contains pass"] == "100%"
    assert list(matrix.columns) == ["row", "input", "echo", "smollm2-135m"]
    assert matrix["echo"].tolist() == ["✓ 1.00", "✓ 1.00"]
    assert len(at.get("plotly_chart")) == 2  # per-metric bars, latency: neither model has a price
    assert any(
        i.value.startswith("No score-vs-cost chart: no model in this evaluation has a price") for i in at.info
    )
    assert any(
        m.value.startswith("- contains: echo leads smollm2-135m") or "contains:" in m.value
        for m in at.markdown
    )
    assert any(c.value.startswith("contains: ✓ 1.00") for c in at.caption)  # drill-in of row 1
    assert len(at.get("download_button")) == 2
    (saved,) = EvalStore(Store()).list()
    assert (saved.done, saved.total, saved.name) == (4, 4, "mine.csv")


def test_a_malformed_upload_is_refused_with_its_line():
    at = evaluate_page()
    at.radio(key="ev-source").set_value("Upload CSV or JSONL").run()
    at.file_uploader(key="ev-upload").upload("bad.csv", b"a,b\n1,2,3\n", "text/csv").run()
    assert [e.value for e in at.error] == ["bad.csv line 2: 3 fields where the header has 2"]
    assert "ev-run" not in [b.key for b in at.button]  # nothing to run
    assert EvalStore(Store()).list() == []


def test_sample_on_the_two_local_models_reads_which_is_better():
    at = evaluate_page()
    at.selectbox(key="ev-sample").set_value("sentiment.csv").run()
    assert at.multiselect(key="ev-models").value == ["smollm2-135m", "gemma3-270m"]
    assert at.multiselect(key="ev-metrics-sentiment.csv").value == ["quasi_exact_match", "contains"]
    at.number_input(key="ev-limit-sentiment.csv").set_value(2).run()
    at.button(key="ev-run").click().run()
    assert not at.exception, at.exception
    shown = [m.value.replace("\\", "") for m in at.markdown]  # the page escapes text it did not write
    readings = [m for m in shown if m.startswith("- quasi_exact_match") or m.startswith("- contains")]
    assert len(readings) == 2
    assert all(("leads" in r or "tie" in r) for r in readings)
    captions = [c.value.replace("\\", "") for c in at.caption]  # the summary names each normalisation
    assert (
        "quasi_exact_match: case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored"
        in captions
    )
    assert "contains: case, ASCII punctuation and extra whitespace ignored" in captions


def test_stopped_evaluation_is_listed_and_resumes_only_missing_rows(scripted):
    spec = remote_spec(scripted.url("echo~ttft=0.1"), key="slowecho", source="session")
    rows = Dataset(
        "d.csv", ("question", "expected"), tuple({"question": f"q{i}", "expected": f"q{i}"} for i in range(5))
    )
    store = EvalStore(Store())
    evaluation = Evaluation(
        EvalSetup(
            template="{question}", models=("slowecho",), metrics=(MetricChoice("contains"),), concurrency=1
        ),
        rows,
        {"slowecho": spec},
        store,
    )
    running = evaluation.run()
    next(running)  # one answer is in; the page is now interrupted (Stop, or the tab closed)
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["custom_specs"] = {"slowecho": spec}
    at.session_state["ev-active"] = evaluation
    at.switch_page("pages/evaluate.py")
    at.run()
    running.close()
    assert not at.exception, at.exception
    partial = store.get(evaluation.eval_id)
    assert not partial.complete and 1 <= len(partial.cells) < 5
    assert any("Not finished" in w.value for w in at.warning)
    before = len(scripted.requests)
    at.button(key="ev-resume").click().run()
    assert not at.exception, at.exception
    final = store.get(evaluation.eval_id)
    assert final.complete
    assert len(scripted.requests) - before == 5 - len(partial.cells)


def test_history_lists_evaluations_and_opens_one_in_evaluate(scripted):
    spec = remote_spec(scripted.url("echo"), key="echo", source="session")
    rows = Dataset("d.csv", ("question", "expected"), ({"question": "hi", "expected": "hi"},))
    evaluation = Evaluation(
        EvalSetup(template="{question}", models=("echo",), metrics=(MetricChoice("contains"),)),
        rows,
        {"echo": spec},
        EvalStore(Store()),
    )
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["custom_specs"] = {"echo": spec}
    at.switch_page("pages/history.py")
    at.run()
    listed = next(d.value for d in at.dataframe if "answers" in d.value.columns)
    assert listed["answers"].tolist() == ["0/1"] and listed["status"].tolist() == ["stopped: can resume"]
    at.button(key="h-eval-open").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ev-pick").value == evaluation.eval_id
    at.switch_page("pages/evaluate.py")  # AppTest reruns the page it was last told, not the switched-to one
    at.button(key="ev-resume").click().run()
    assert not at.error, [e.value for e in at.error]
    assert EvalStore(Store()).get(evaluation.eval_id).complete
