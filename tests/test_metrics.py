"""Metric names that mean what they say (HELM's): `exact_match` strict, `quasi_exact_match` normalised and
saying how; every summary and export names the normalisation it applied."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from playground.core.results import RunResult
from playground.core.scores import Score
from playground.evals import eval_to_csv, eval_to_json, normalisation_notes
from playground.evals.metrics import (
    METRICS,
    MetricChoice,
    Normalisation,
    check_metrics,
    exact_match,
    normalisation_applied,
    quasi_exact_match,
    score_answer,
)
from playground.storage.evals import Cell, StoredEval

# The issue's case: three answers a normalising exact_match passed 3/3 and a strict `equals` 1/3.
ISSUE_ROWS = [
    ("Positive.", "positive"),
    ("Negative\n", "Negative"),
    ("The answer is   Paris", "answer is paris"),
]


def test_exact_match_is_strict_and_quasi_exact_match_normalises_on_the_issue_rows():
    strict = [exact_match(answer, expected, {}).passed for answer, expected in ISSUE_ROWS]
    quasi = [quasi_exact_match(answer, expected, {}).passed for answer, expected in ISSUE_ROWS]
    assert strict == [False, True, False]  # 1/3: only the surrounding whitespace is forgiven
    assert quasi == [True, True, True]  # 3/3


def test_strict_exact_match_strips_only_the_ends_as_helm_does():
    assert exact_match("  Paris \n", "Paris", {}).passed
    assert not exact_match("paris", "Paris", {}).passed
    assert not exact_match("Paris.", "Paris", {}).passed
    assert not exact_match("Pa  ris", "Pa ris", {}).passed
    assert not exact_match("", "", {}).passed  # HELM: an empty answer never matches
    assert not exact_match("paris", "Paris", {"ignore_case": True}).passed  # no option makes it lenient


def test_quasi_exact_match_applies_helm_steps_each_an_option():
    assert quasi_exact_match("An apple!", "apple", {}).passed  # case, punctuation, article
    assert not quasi_exact_match("An apple!", "apple", {"strip_articles": False}).passed
    assert not quasi_exact_match("APPLE", "apple", {"ignore_case": False}).passed
    assert not quasi_exact_match("apple!", "apple", {"strip_punctuation": False}).passed
    assert not quasi_exact_match("big  apple", "big apple", {"collapse_whitespace": False}).passed
    assert not quasi_exact_match("theatre", "atre", {}).passed  # articles are whole words only


def test_each_metric_says_how_it_compares():
    assert METRICS["exact_match"].description.startswith("answer equals expected; normalisation none (strict")
    quasi = METRICS["quasi_exact_match"].description
    assert "case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored" in quasi
    assert "case, ASCII punctuation and extra whitespace ignored" in METRICS["contains"].description
    assert Normalisation(False, False, False, False).describe() == "no normalisation: compared as written"
    assert Normalisation(strip_punctuation=False, strip_articles=False).describe() == (
        "case and extra whitespace ignored"
    )


def test_the_applied_normalisation_follows_the_options_chosen():
    choices = [
        MetricChoice("exact_match"),
        MetricChoice("quasi_exact_match", {"ignore_case": False}),
        MetricChoice("contains", {"strip_articles": True}),
        MetricChoice("bleu"),
    ]
    assert normalisation_applied(choices) == {
        "exact_match": "none (strict: only leading and trailing whitespace stripped, as in HELM)",
        "quasi_exact_match": "ASCII punctuation, articles (a, an, the) and extra whitespace ignored",
        "contains": "case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored",
    }
    check_metrics(choices, ["expected"])  # every one of them is known


def _saved() -> StoredEval:
    choices = [MetricChoice("exact_match"), MetricChoice("quasi_exact_match"), MetricChoice("bleu")]
    cells = []
    for index, (answer, expected) in enumerate(ISSUE_ROWS):
        scores: dict[str, Score] = {c.name: score_answer(c, answer, expected) for c in choices}
        cells.append(Cell(index, "m", answer, expected, RunResult(model="m", text=answer), scores))
    setup = {"models": ["m"], "metrics": [c.to_json() for c in choices], "template": "{q}"}
    dataset = {
        "name": "issue",
        "columns": ["q", "expected"],
        "rows": [{"q": a, "expected": e} for a, e in ISSUE_ROWS],
    }
    return StoredEval("e1", datetime.now(UTC), "issue", setup, dataset, cells)


def test_exports_and_the_page_summary_name_the_normalisation():
    saved = _saved()
    exported = json.loads(eval_to_json(saved))
    assert exported["normalisation"] == normalisation_applied(
        [MetricChoice("exact_match"), MetricChoice("quasi_exact_match")]
    )
    summary = exported["summary"][0]["metrics"]
    assert (
        summary["exact_match"]["mean"] == pytest.approx(1 / 3) and summary["quasi_exact_match"]["mean"] == 1.0
    )
    lines = list(csv.DictReader(io.StringIO(eval_to_csv(saved))))
    assert {line["quasi_exact_match_normalisation"] for line in lines} == {
        "case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored"
    }
    assert lines[0]["exact_match_normalisation"].startswith("none (strict")
    assert "bleu_normalisation" not in lines[0]  # not a text match: nothing to name
    assert normalisation_notes(saved) == [
        f"{name}: {words}" for name, words in exported["normalisation"].items()
    ]
