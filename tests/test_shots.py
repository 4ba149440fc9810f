"""Few-shot prompting: examples picked without leaks, sent as the model's kind expects, measured per k."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.core.params import Params, build_request
from playground.core.specs import ModelSpec, load_specs
from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
from playground.evals.shots import ExamplePicker, ShotsError, parse_shots
from playground.storage import Store
from tests.conftest import remote_spec
from tests.scripted_server import ScriptedServer

APP = str(Path(__file__).resolve().parent.parent / "app.py")

# Rows 0 and 3 have the same question (a duplicate must never be shown as the other's example), row 5 has
# no expected answer (it cannot be an example, though it is still evaluated).
QUESTIONS = ["capital of France", "days in a week", "colour of the sky", "capital of France", "legs of a cat"]
ROWS = [{"q": q, "expected": f"answer {i}"} for i, q in enumerate(QUESTIONS)] + [
    {"q": "no answer", "expected": ""}
]


def _picker(select: str, seed: int = 0) -> ExamplePicker:
    prompts = [f"Q: {row['q']}\nA:" for row in ROWS]
    return ExamplePicker(prompts, [row["expected"] for row in ROWS], select, seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(("select", "seed"), [("first", 0), ("random", 0), ("random", 7)])
def test_a_row_never_sees_itself_a_duplicate_or_an_unanswered_row_as_an_example(select: str, seed: int):
    picker = _picker(select, seed)
    for index in range(len(ROWS)):
        same = {j for j, row in enumerate(ROWS) if row["q"] == ROWS[index]["q"]}
        for k in range(0, 4):
            examples = picker.examples(index, k)
            assert len(examples) == k
            assert not same & set(examples), (index, k, examples)  # itself, or the same prompt
            assert 5 not in examples  # no expected answer to show
        # More examples add to the fewer ones (the nearest stays last, next to the question).
        assert set(picker.examples(index, 1)) <= set(picker.examples(index, 3))
    assert picker.shortfall(3) == [] and picker.shortfall(4) == [0, 3]  # 0 and 3 have only 3 others


def test_random_picks_repeat_with_their_seed_and_change_with_another():
    assert [_picker("random", 1).examples(i, 2) for i in range(6)] == [
        _picker("random", 1).examples(i, 2) for i in range(6)
    ]
    seeds = {tuple(_picker("random", s).examples(1, 3)) for s in range(6)}
    assert len(seeds) > 1


def test_shots_settings_are_checked():
    assert parse_shots("3, 0,1,1") == (0, 1, 3)
    for bad in ("", "a", "-1", "21"):
        with pytest.raises(ShotsError):
            parse_shots(bad)
    with pytest.raises(ShotsError, match="needs an embedding model"):
        _picker("similar")


def test_examples_are_earlier_turns_for_chat_and_text_that_continues_for_a_base_model():
    examples = [("Q: a\nA:", "1"), ("Q: b\nA:", "2")]
    chat = ModelSpec(key="c", provider="openai", model="m", base_url="http://127.0.0.1:9/v1")
    request = build_request(chat, "Q: c\nA:", "Be brief.", Params(), examples)
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Be brief."),
        ("user", "Q: a\nA:"),
        ("assistant", "1"),
        ("user", "Q: b\nA:"),
        ("assistant", "2"),
        ("user", "Q: c\nA:"),
    ]
    base = load_specs()["gemma3-270m"]
    text = build_request(base, "Q: c\nA:", None, Params(), examples).raw_text
    assert text == "Q: a\nA: 1\n\nQ: b\nA: 2\n\nQ: c\nA:"


def test_every_k_runs_on_every_model_and_the_requests_never_leak_a_row(scripted: ScriptedServer):
    spec = remote_spec(scripted.url("echo~shots"), key="echo")
    dataset = Dataset("d", ("q", "expected"), tuple(ROWS))
    setup = EvalSetup(
        template="Q: {q}\nA:",
        models=("echo",),
        metrics=(MetricChoice("contains"),),
        shots=(0, 1, 3),
        shot_select="random",
        shot_seed=3,
    )
    store = evaluation_store(Store())
    evaluation = Evaluation(setup, dataset, {"echo": spec}, store)
    assert evaluation.total_cells == 18
    assert len(list(evaluation.run())) == 18
    saved = store.get(evaluation.eval_id)
    assert saved is not None and saved.complete
    assert [a.label for a in saved.arms] == ["echo · 0-shot", "echo · 1-shot", "echo · 3-shot"]
    for cell in saved.cells:
        assert len(cell.examples) == cell.shots and cell.row_index not in cell.examples
        messages = cell.sent["messages"]  # type: ignore[index]
        assert messages[-1]["content"] == cell.prompt and len(messages) == 1 + 2 * cell.shots
        shown = {m["content"] for m in messages[:-1] if m["role"] == "user"}
        assert cell.prompt not in shown  # not itself, nor its duplicate
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        assert answers == [ROWS[j]["expected"] for j in cell.examples] and cell.expected not in answers
    sent = [r["body"]["messages"] for r in scripted.requests if r["path"].startswith("/echo~shots/")]
    assert sorted(len(m) for m in sent) == sorted(
        1 + 2 * c.shots for c in saved.cells
    )  # what was saved was sent


def test_the_cli_runs_shots_and_prints_one_object_per_row_model_and_k(
    scripted: ScriptedServer, tmp_path: Path
):
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.echo]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo")}"\n'
    )
    base = [sys.executable, "-m", "playground", "eval", "qa.csv", "-m", "echo", "--models-file", str(models)]
    result = subprocess.run(
        [*base, "--limit", "4", "--shots", "0,2", "--shot-select", "random", "--seed", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    *cells, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((c["row_index"], c["shots"]) for c in cells) == [(r, k) for r in range(4) for k in (0, 2)]
    assert [s["model"] for s in summary["summary"]] == ["echo · 0-shot", "echo · 2-shot"]
    assert [s["shots"] for s in summary["summary"]] == [0, 2]
    table = subprocess.run(
        [*base, "--limit", "3", "--shots", "0,1"], capture_output=True, text=True, timeout=120
    )
    assert "echo · 1-shot" in table.stdout
    short = subprocess.run(
        [*base, "--limit", "3", "--shots", "3"], capture_output=True, text=True, timeout=120
    )
    assert short.returncode == 2
    assert "3 examples need as many other rows" in short.stderr and "Traceback" not in short.stderr


def test_the_page_runs_shots_shows_the_prompt_lab_and_the_prompt_sent(scripted: ScriptedServer):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["custom_specs"] = {
        "echo": remote_spec(scripted.url("echo"), key="echo", source="session")
    }
    at.switch_page("pages/evaluate.py").run()
    at.selectbox(key="ev-sample").set_value("qa.csv").run()
    at.multiselect(key="ev-models").set_value(["echo"]).run()
    at.number_input(key="ev-limit-qa.csv").set_value(4)
    at.text_input(key="ev-shots").input("0,2")
    at.button(key="ev-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(s.value.endswith("8 of 8 answers") for s in at.subheader)
    assert (
        len(at.get("plotly_chart")) == 4
    )  # bars, latency, and the prompt lab's two (no price: no cost chart)
    summary = next(d.value for d in at.dataframe if "call errors" in d.value.columns)
    assert summary["model"].tolist() == ["echo · 0-shot", "echo · 2-shot"]
    codes = [c.value for c in at.code]
    assert any("[assistant]" in code and code.count("[user]") == 3 for code in codes)  # 2 examples + row
    at.text_input(key="ev-shots").input("zero")
    at.button(key="ev-run").click().run()
    assert any("shots must be whole numbers" in e.value for e in at.error)


def test_similar_examples_are_the_rows_nearest_by_the_bundled_embedding_model(scripted: ScriptedServer):
    rows = [
        {"q": "What is the capital of France?", "expected": "Paris"},
        {"q": "Which city is the capital of Italy?", "expected": "Rome"},
        {"q": "How many legs does a spider have?", "expected": "8"},
        {"q": "How many legs does an insect have?", "expected": "6"},
        {"q": "What is the capital of Spain?", "expected": "Madrid"},
    ]
    spec = remote_spec(scripted.url("echo"), key="echo")
    setup = EvalSetup(
        template="{q}",
        models=("echo",),
        metrics=(MetricChoice("contains"),),
        shots=(1,),
        shot_select="similar",
    )
    specs = {**load_specs(), "echo": spec}
    evaluation = Evaluation(
        setup, Dataset("d", ("q", "expected"), tuple(rows)), specs, evaluation_store(Store())
    )
    assert evaluation.setup.shot_embedder == "wordllama-256"  # the bundled model, saved for resume
    nearest = {i: evaluation.picker.examples(i, 1)[0] for i in range(len(rows))}
    assert nearest[2] == 3 and nearest[3] == 2  # legs go with legs
    assert rows[nearest[0]]["q"].endswith(("Italy?", "Spain?"))  # capitals with capitals
    assert all(nearest[i] != i for i in nearest)
