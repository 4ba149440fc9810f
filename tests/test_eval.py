"""Evaluate: metrics against known values, bad input, a whole evaluation, resume, judge, limits, CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from playground.cli.main import app as cli_app
from playground.compare.service import UsageError
from playground.core.specs import ModelSpec
from playground.core.stats import mean_ci95
from playground.evals.datasets import (
    Dataset,
    DatasetError,
    load_sample,
    parse_dataset,
    sample_names,
    sample_preset,
)
from playground.evals.export import eval_to_csv, eval_to_json
from playground.evals.judge import JudgeParseError, parse_verdict
from playground.evals.metrics import (
    MetricChoice,
    MetricError,
    bleu,
    check_metrics,
    chrf,
    contains,
    json_schema,
    numeric,
    quasi_exact_match,
    regex_match,
    rouge_l,
    valid_json,
)
from playground.evals.runner import EvalSetup, Evaluation
from playground.evals.summary import reading, summarize
from playground.evals.templating import PromptTemplate, TemplateError
from playground.storage.evals import EvalStore
from playground.storage.runs import Store
from tests.conftest import closed_port_url, remote_spec

# --- metrics ---------------------------------------------------------------------------------------------


def test_quasi_exact_match_and_contains_normalise_case_punctuation_and_spaces():
    assert quasi_exact_match("  Positive. ", "positive", {}).passed
    assert not quasi_exact_match("Positive.", "positive", {"strip_punctuation": False}).passed
    assert not quasi_exact_match("POSITIVE", "positive", {"ignore_case": False}).passed
    assert contains("The answer is: Paris!", "paris", {}).value == 1.0
    assert contains("London", "Paris", {}).value == 0.0


def test_regex_uses_pattern_or_expected_and_reports_bad_patterns():
    assert regex_match("order #1234 shipped", None, {"pattern": r"#\d{4}"}).passed
    assert regex_match("colour", "colou?r", {}).passed
    bad = regex_match("x", "(unclosed", {})
    assert bad.value is None and "bad pattern" in bad.error


def test_json_metrics_read_bare_fenced_and_embedded_json():
    assert valid_json('{"a": 1}', None, {}).passed
    assert valid_json('Sure! ```json\n{"a": 1}\n``` hope it helps', None, {}).passed
    assert valid_json('The result is {"a": [1, 2]} as asked.', None, {}).passed
    assert not valid_json("no json here {oops", None, {}).passed
    schema = {
        "schema": json.dumps(
            {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}
        )
    }
    assert json_schema('{"age": 30}', None, schema).passed
    failed = json_schema('{"age": "thirty"}', None, schema)
    assert not failed.passed and failed.detail.startswith("age:")
    with pytest.raises(MetricError, match="not a valid JSON Schema"):
        check_metrics([MetricChoice("json_schema", {"schema": '{"type": 12}'})], ["text"])
    with pytest.raises(MetricError, match="needs a schema"):
        check_metrics([MetricChoice("json_schema")], ["text"])


def test_numeric_closeness():
    assert numeric("It is about 1,000.4 metres", "1000", {}).passed  # within 1%
    assert not numeric("998", "1000", {"rel_tol": 0.001}).passed
    assert numeric("998", "1000", {"rel_tol": 0, "abs_tol": 2}).passed
    assert numeric("no idea", "5", {}).value == 0.0
    assert numeric("5", "five", {}).error


def test_sacrebleu_reference_example_and_sentence_scores():
    import sacrebleu

    # sacrebleu's README example: BLEU = 48.53, chrF2 = 59.73.
    refs = [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ]
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert round(sacrebleu.corpus_bleu(hyps, refs).score, 2) == 48.53
    assert round(sacrebleu.corpus_chrf(hyps, refs).score, 2) == 59.73
    assert bleu("The dog bit the man.", "The dog bit the man.", {}).value == 1.0
    assert bleu("completely different words", "The dog bit the man.", {}).value == 0.0
    expected_chrf = sacrebleu.sentence_chrf(hyps[2], [refs[1][2]]).score / 100
    assert chrf(hyps[2], refs[1][2], {}).value == pytest.approx(expected_chrf)
    assert round(expected_chrf, 4) == 0.5188


def test_rouge_l_reference_example():
    # rouge-score's README example; the LCS "the quick brown jumps the" is 5 tokens of 8 and 9: F = 10/17.
    score = rouge_l(
        "The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog", {}
    )
    assert score.value == pytest.approx(10 / 17)
    assert score.passed  # default pass at 0.5
    assert not rouge_l("x", "The quick brown fox", {"pass_at": 0.9}).passed


def test_judge_verdicts_are_read_strictly():
    verdict = parse_verdict('```json\n{"reasoning": "good", "score": "5"}\n```')
    assert (verdict.score, verdict.reasoning) == (5, "good")
    assert verdict.as_score().value == 1.0 and parse_verdict('{"score": 1}').as_score().value == 0.0
    for reply in (
        "I liked it",
        '{"score": 7}',
        '{"score": 3.5}',
        '{"reasoning": "no score"}',
        '{"score": true}',
    ):
        with pytest.raises(JudgeParseError):
            parse_verdict(reply)


def test_mean_ci95_wilson_for_pass_fail_and_student_t_for_graded_scores():
    mean, low, high = mean_ci95([0.0, 1.0, 1.0, 1.0])
    # Wilson score interval for 3 of 4: 0.3006 .. 0.9544
    assert mean == 0.75 and (round(low, 4), round(high, 4)) == (0.3006, 0.9544)
    assert [round(v, 4) for v in mean_ci95([1.0, 1.0])] == [1.0, 0.3424, 1.0]  # 2 of 2 is not certainty
    mean, low, high = mean_ci95([0.5, 0.6, 0.7])
    # t(0.975, 2) = 4.303; sd = 0.1; half width = 4.303 * 0.1 / sqrt(3) = 0.248
    assert (round(low, 3), round(high, 3)) == (0.352, 0.848)
    assert mean_ci95([0.4]) == (0.4, None, None)


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("d.csv", b'text,expected\n"a",b\n"c",d,e\n', "d.csv line 3: 3 fields where the header has 2"),
        ("d.csv", b'text,expected\n"a"x,b\n', "d.csv line 2: malformed CSV"),
        ("d.jsonl", b'{"text": "a"}\n{"text": \n', "d.jsonl line 2: not valid JSON"),
        ("d.jsonl", b'{"text": "a"}\n[1, 2]\n', "d.jsonl line 2: each line must be a JSON object"),
        ("d.csv", b"", "d.csv is empty"),
        ("d.csv", b"text,expected\n", "d.csv has a header but no rows"),
        ("d.csv", b"text,expected\ncaf\xe9,x\n", "d.csv is not UTF-8 text (line 2)"),
        ("d.txt", b"hello", "use a .csv or .jsonl file"),
        ("d.csv", b"text,text\na,b\n", "column named twice: text"),
    ],
)
def test_malformed_datasets_get_one_clear_message(name: str, data: bytes, message: str):
    with pytest.raises(DatasetError) as caught:
        parse_dataset(name, data)
    assert message in str(caught.value)


def test_size_limit_is_configurable(monkeypatch):
    data = b"text\n" + b"x\n" * 600
    parse_dataset("d.csv", data)
    monkeypatch.setenv("PLAYGROUND_MAX_DATASET_MB", "0.001")
    with pytest.raises(DatasetError, match=r"over the 0.001 MB limit \(PLAYGROUND_MAX_DATASET_MB\)"):
        parse_dataset("d.csv", data)


def test_template_variable_without_column_names_both():
    with pytest.raises(
        TemplateError, match=r"variable 'questoin' has no column.*columns are: question, expected"
    ):
        PromptTemplate("Q: {questoin}").check(["question", "expected"])
    with pytest.raises(TemplateError, match="row 2 has no value for 'text'"):
        PromptTemplate("{text}").check(["text"], [{"text": "a"}, {"other": "b"}])
    template = PromptTemplate('Reply as {"label": ...} for: {text} / {{ text | upper }}')
    assert template.render({"text": "hi"}) == 'Reply as {"label": ...} for: hi / HI'
    with pytest.raises(TemplateError, match="unsafe"):
        PromptTemplate("{{ text.__class__.__mro__ }}").render({"text": "x"})


def store() -> EvalStore:
    return EvalStore(Store())


QA = Dataset(
    "qa.csv", ("question", "expected"), tuple({"question": f"q{i}", "expected": f"q{i}"} for i in range(6))
)


def setup(models: tuple[str, ...], **fields: object) -> EvalSetup:
    values: dict[str, object] = {
        "template": "{question}",
        "models": models,
        "metrics": (MetricChoice("contains"),),
    }
    values.update(fields)
    return EvalSetup(**values)  # type: ignore[arg-type]


def test_bad_setups_are_refused_before_anything_is_saved(scripted):
    specs = {
        "echo": remote_spec(scripted.url("echo"), key="echo"),
        "ghost": ModelSpec(key="ghost", provider="llamacpp", model="ghost", gguf="/nonexistent/ghost.gguf"),
    }
    no_expected = Dataset("d.csv", ("question",), ({"question": "x"},))
    cases = [
        (
            setup(("echo",)),
            no_expected,
            "metric 'contains' needs a column of expected answers ('expected'); the dataset has: question",
        ),
        (setup(("echo",), metrics=(MetricChoice("f1"),)), QA, "unknown metric 'f1'"),
        (setup(("nope",)), QA, "unknown model 'nope'"),
        (setup(("echo",), metrics=(MetricChoice("judge"),)), QA, "needs a judge model"),
        (setup(("echo",), template="{q}"), QA, "variable 'q' has no column"),
        (setup(("echo", "ghost")), QA, "ghost: GGUF file not found: /nonexistent/ghost.gguf"),
    ]
    saved = store()
    for bad_setup, dataset, message in cases:
        with pytest.raises(UsageError) as caught:
            Evaluation(bad_setup, dataset, specs, saved)
        assert message in str(caught.value)
    assert saved.list() == []  # nothing half-written


# --- whole evaluations -----------------------------------------------------------------------------------


def test_every_row_on_every_model_saved_as_it_finishes_and_one_failing_model_is_isolated(scripted):
    specs = {
        "echo": remote_spec(
            scripted.url("echo"),
            key="echo",
            price_input_per_mtok=Decimal("1"),
            price_output_per_mtok=Decimal("2"),
        ),
        "dead": remote_spec(closed_port_url(), key="dead"),
    }
    saved = store()
    evaluation = Evaluation(setup(("echo", "dead"), concurrency=4), QA, specs, saved)
    progress = []
    for event in evaluation.run():
        # saved before it is handed out
        assert any(
            c.row_index == event.cell.row_index and c.model == event.cell.model
            for c in saved.get(evaluation.eval_id).cells
        )
        progress.append(event.progress)
    assert [p.done for p in progress] == list(range(1, 13))
    assert progress[-1].rows_done == progress[-1].rows == 6
    assert all(p.rows_done <= (p.done + 1) // 2 + 1 for p in progress)  # a row is done when both answered
    assert progress[-1].errors == 6 and progress[-1].left_s == 0
    assert progress[-1].spend_usd > 0
    result = saved.get(evaluation.eval_id)
    assert result.complete and len(result.cells) == 12
    echo, dead = summarize(result.cells, ["echo", "dead"], ["contains"])
    assert (
        echo.metrics["contains"].mean == 1.0
        and echo.metrics["contains"].pass_rate == 1.0
        and echo.errors == 0
    )
    assert dead.errors == 6 and dead.metrics["contains"].n == 0
    assert echo.cost_usd == sum((c.result.cost_usd for c in result.cells if c.model == "echo"), Decimal(0))
    assert "echo leads" not in reading([echo, dead], "contains")  # only one model has scores
    csv_text = eval_to_csv(result)
    assert csv_text.splitlines()[0].startswith("row_index,model,shots,examples,prompt,expected,answer,error")
    assert len(csv_text.splitlines()) == 13 and "connection:" in csv_text
    exported = json.loads(eval_to_json(result))
    assert exported["complete"] and {s["model"] for s in exported["summary"]} == {"echo", "dead"}


def test_resume_after_an_interruption_runs_only_the_missing_cells(scripted):
    specs = {"slow": remote_spec(scripted.url("echo~ttft=0.05"), key="slow")}
    saved = store()
    first = Evaluation(setup(("slow",), concurrency=1), QA, specs, saved)
    run = first.run()
    for _ in range(2):
        next(run)
    run.close()  # the page was closed / Stop pressed: the generator cancels the rest
    done_before = len(saved.get(first.eval_id).cells)
    assert 2 <= done_before < 6
    listing = saved.list()[0]
    assert (listing.done, listing.total) == (done_before, 6)
    requests_before = len(scripted.requests)

    resumed = Evaluation.resume(first.eval_id, specs, saved)
    assert len(resumed.pending()) == 6 - done_before
    list(resumed.run())
    final = saved.get(first.eval_id)
    assert final.complete and sorted(c.row_index for c in final.cells) == list(range(6))
    assert len(scripted.requests) - requests_before == 6 - done_before  # no row ran twice


def test_judge_scores_with_reasoning_and_cost_and_bad_verdicts_are_errors(scripted):
    specs = {
        "echo": remote_spec(scripted.url("echo"), key="echo"),
        "good-judge": remote_spec(
            scripted.url("judge~score=4"),
            key="good-judge",
            price_input_per_mtok=Decimal("3"),
            price_output_per_mtok=Decimal("6"),
        ),
        "bad-judge": remote_spec(scripted.url("judge~score=bad"), key="bad-judge"),
    }
    saved = store()
    good = Evaluation(setup(("echo",), judge="good-judge"), QA, specs, saved)
    list(good.run())
    cells = saved.get(good.eval_id).cells
    assert all(c.scores["judge"].value == 0.75 and c.scores["judge"].passed for c in cells)
    assert cells[0].scores["judge"].detail == "4/5: ok"
    (summary,) = summarize(cells, ["echo"], ["contains", "judge"])
    assert summary.judge_cost_usd and summary.judge_cost_usd > 0
    judge_request = next(r for r in scripted.requests if r["path"].startswith("/judge"))
    assert "Answer to grade:" in judge_request["body"]["messages"][1]["content"]

    bad = Evaluation(setup(("echo",), judge="bad-judge", metrics=(MetricChoice("judge"),)), QA, specs, saved)
    list(bad.run())
    (summary,) = summarize(saved.get(bad.eval_id).cells, ["echo"], ["judge"])
    judged = summary.metrics["judge"]
    assert judged.errors == 6 and judged.mean is None  # an error per row, never a zero


def test_concurrency_limit_per_provider_holds(scripted):
    rows = Dataset(
        "d.csv", ("question", "expected"), tuple({"question": "x", "expected": "x"} for _ in range(12))
    )
    specs = {f"m{i}": remote_spec(scripted.url(f"echo~ttft=0.1~id={i}"), key=f"m{i}") for i in range(3)}
    evaluation = Evaluation(
        setup(tuple(specs), concurrency=8, provider_limits={"openai": 2}), rows, specs, store()
    )
    scripted.reset_peak("echo")
    list(evaluation.run())
    assert scripted.peak("echo") == 2
    wide = Evaluation(setup(tuple(specs), concurrency=6), rows, specs, store())
    scripted.reset_peak("echo")
    list(wide.run())
    assert 3 <= scripted.peak("echo") <= 6


def test_a_bundled_sample_on_the_local_models():
    assert {"sentiment.csv", "qa.csv", "extraction.jsonl"} <= set(sample_names())
    preset = sample_preset("extraction.jsonl")
    dataset = load_sample("extraction.jsonl")
    rows = Dataset(dataset.name, dataset.columns, dataset.rows[:2])
    metrics = tuple(
        MetricChoice(m, {"schema": preset.schema} if m == "json_schema" else {}) for m in preset.metrics
    )
    from playground.core.params import Params
    from playground.core.specs import load_specs

    evaluation = Evaluation(
        EvalSetup(
            template=preset.template,
            models=("smollm2-135m", "gemma3-270m"),
            metrics=metrics,
            params=Params(temperature=0.0, max_tokens=48),
        ),
        rows,
        load_specs(),
        store(),
    )
    events = list(evaluation.run())
    assert len(events) == 4
    assert all(e.cell.result.ok and e.cell.result.usage_source == "counted" for e in events)
    assert all(set(e.cell.scores) == {"valid_json", "json_schema"} for e in events)
    assert all(e.cell.result.cost_source == "local" for e in events)


def test_cli_eval_on_a_sample_with_local_models_as_json():
    result = CliRunner().invoke(
        cli_app, ["eval", "qa.csv", "-m", "smollm2-135m", "-m", "gemma3-270m", "--limit", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    *cells, payload = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["row_index"], c["model"], c["shots"]) for c in cells] == [
        (0, "gemma3-270m", 0),
        (0, "smollm2-135m", 0),
        (1, "gemma3-270m", 0),
        (1, "smollm2-135m", 0),
    ]
    assert payload["complete"] and [s["model"] for s in payload["summary"]] == ["smollm2-135m", "gemma3-270m"]
    assert set(payload["summary"][0]["metrics"]) == {"contains", "rouge_l"}
    assert len(payload["readings"]) == 2


def test_cli_eval_exit_codes_and_messages(scripted, tmp_path: Path):
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.echo]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo")}"\n\n'
        f'[models.dead]\nprovider = "openai"\nmodel = "m"\nbase_url = "{closed_port_url()}"\n'
    )
    data = tmp_path / "d.csv"
    data.write_text("question,expected\nhello there,hello\n")
    runner = CliRunner()

    def run_eval(*extra: str, template: str = "{question}"):
        args = [
            "eval",
            str(data),
            "--template",
            template,
            "--metric",
            "contains",
            "--models-file",
            str(models),
        ]
        return runner.invoke(cli_app, [*args, *extra])

    ok = run_eval("-m", "echo")
    assert ok.exit_code == 0, ok.output
    failed = run_eval("-m", "echo", "-m", "dead", "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout.splitlines()[-1])["summary"][1]["errors"] == 1
    bad = run_eval("-m", "echo", template="{text}")
    assert bad.exit_code == 2
    assert (
        bad.stderr.strip()
        == "error: template variable 'text' has no column in the dataset; columns are: question, expected"
    )
    other = tmp_path / "labels.csv"
    other.write_text("question,label\nhello there,hello\n")
    labelled = runner.invoke(
        cli_app,
        [
            "eval",
            str(other),
            "-m",
            "echo",
            "--template",
            "{question}",
            "--metric",
            "contains",
            "--expected",
            "label",
            "--models-file",
            str(models),
            "--json",
        ],
    )
    assert labelled.exit_code == 0, labelled.output
    assert json.loads(labelled.stdout.splitlines()[-1])["summary"][0]["metrics"]["contains"]["mean"] == 1.0
    limit = run_eval("-m", "echo", "--provider-limit", "openai")
    assert limit.exit_code == 2 and "PROVIDER=N" in limit.stderr
    missing = runner.invoke(
        cli_app, ["eval", str(tmp_path / "none.csv"), "-m", "echo", "--template", "x", "--metric", "contains"]
    )
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_an_evaluation_keeps_only_the_columns_it_reads(scripted):
    from playground.core.specs import ModelSpec
    from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
    from playground.storage import Store

    spec = ModelSpec(key="s", provider="openai", model="m", base_url=scripted.url("ok~tokens=1"))
    rows = ({"q": "hi", "expected": "word0", "unused": "x" * 100_000},)
    setup = EvalSetup(template="{q}", models=("s",), metrics=(MetricChoice("contains"),))
    store = evaluation_store(Store())
    evaluation = Evaluation(setup, Dataset("d", ("q", "expected", "unused"), rows), {"s": spec}, store)
    saved = store.get(evaluation.eval_id)
    assert saved.dataset["columns"] == ["q", "expected"] and saved.dataset["rows"] == [
        {"q": "hi", "expected": "word0"}
    ]
    list(Evaluation.resume(evaluation.eval_id, {"s": spec}, store).run())  # resume needs nothing more
    assert store.get(evaluation.eval_id).complete
