"""Objective metrics for one answer: each returns a score in [0, 1] and whether it passes.

Text overlap comes from sacrebleu (BLEU, chrF) and rouge-score (ROUGE-L), schemas from jsonschema,
user patterns from `regex` (it has a timeout, so a pathological pattern cannot hang a worker). The
LLM judge lives in `judge.py`: it calls a model, so the evaluation runner drives it.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from playground.core.scores import Score

JUDGE = "judge"
DEFAULT_PASS_AT = 0.5


class MetricError(ValueError):
    """A metric chosen with missing or bad options, or one that needs a column the dataset lacks."""


@dataclass(frozen=True)
class MetricChoice:
    """A metric as chosen for one evaluation, with its options."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "options": dict(self.options)}


# --- normalisation -------------------------------------------------------------------------------------
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class Normalisation:
    """How a metric compares text before matching; each step is an option of the same name (true/false).

    Written by hand, not taken from a library: it is HELM's `normalize_text` (from the SQuAD/QuAC
    scorers: lower case, drop punctuation, drop articles, collapse whitespace), five lines no maintained
    package ships alone; HuggingFace `evaluate` would bring datasets and more for it."""

    ignore_case: bool = True
    strip_punctuation: bool = True
    strip_articles: bool = True
    collapse_whitespace: bool = True

    @classmethod
    def of(cls, options: Mapping[str, Any], defaults: Normalisation) -> Normalisation:
        """The steps a choice's options turn on or off, the metric's defaults for the rest."""
        return cls(**{name: bool(options.get(name, getattr(defaults, name))) for name in _STEPS})

    def apply(self, text: str) -> str:
        """Text as compared, in HELM's order: case, punctuation, articles, whitespace."""
        if self.ignore_case:
            text = text.casefold()
        if self.strip_punctuation:
            text = text.translate(_PUNCTUATION)
        if self.strip_articles:
            text = _ARTICLES.sub(" ", text)
        if self.collapse_whitespace:
            text = " ".join(text.split())
        return text

    def describe(self) -> str:
        """What is ignored, in words: 'case, punctuation, articles (a, an, the) and extra whitespace ignored'."""
        steps = [words for name, words in _STEPS.items() if getattr(self, name)]
        if not steps:
            return "no normalisation: compared as written"
        listed = steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]
        return f"{listed} ignored"


_STEPS = {
    "ignore_case": "case",
    "strip_punctuation": "ASCII punctuation",
    "strip_articles": "articles (a, an, the)",
    "collapse_whitespace": "extra whitespace",
}
# quasi_exact_match normalises as HELM does; contains keeps the articles, as it always has.
HELM_NORMALISATION = Normalisation()
CONTAINS_NORMALISATION = Normalisation(strip_articles=False)
# What strict exact_match does to both texts: HELM's exact_match strips the ends and nothing else.
STRICT = "none (strict: only leading and trailing whitespace stripped, as in HELM)"


def _binary(ok: bool, detail: str = "") -> Score:
    return Score(1.0 if ok else 0.0, ok, detail)


def _graded(value: float, options: Mapping[str, Any], detail: str = "") -> Score:
    value = min(1.0, max(0.0, value))  # sacrebleu's 100.0 / 100 can land a hair above 1
    pass_at = float(options.get("pass_at", DEFAULT_PASS_AT))
    return Score(value, value >= pass_at, detail or f"{value:.3f} (pass at {pass_at:g})")


# --- the metrics ---------------------------------------------------------------------------------------
def exact_match(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """HELM's exact_match: the answer equals the expected text once both ends are stripped of whitespace;
    an empty answer never matches."""
    stripped = answer.strip()
    return _binary(bool(stripped) and stripped == (expected or "").strip())


def quasi_exact_match(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """HELM's quasi_exact_match: equal after normalisation (`Normalisation`; each step an option)."""
    steps = Normalisation.of(options, HELM_NORMALISATION)
    return _binary(steps.apply(answer) == steps.apply(expected or ""))


def contains(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """The normalised expected text appears in the normalised answer (articles kept unless asked)."""
    steps = Normalisation.of(options, CONTAINS_NORMALISATION)
    return _binary(steps.apply(expected or "") in steps.apply(answer))


def regex_match(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """The pattern (option `pattern`, else the expected column) is found in the answer."""
    import regex

    pattern = options.get("pattern") or expected or ""
    try:
        # concurrent=True: the match releases the GIL, so a slow pattern never holds other sessions.
        found = regex.search(pattern, answer, timeout=float(options.get("timeout_s", 1.0)), concurrent=True)
    except regex.error as exc:
        return Score(None, None, error=f"bad pattern {pattern!r}: {exc}")
    except TimeoutError:
        return Score(None, None, error=f"pattern {pattern!r} took too long on this answer")
    return _binary(found is not None, f"matched {found.group(0)!r}" if found else "no match")


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(answer: str) -> Any:
    """The JSON value in an answer: the whole text, a fenced block, or the first object/array in it.

    Raises ValueError when there is none.
    """
    fenced = _FENCE.search(answer)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(answer)
    decoder = json.JSONDecoder()
    for text in candidates:
        text = text.strip()
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
        for start, char in enumerate(text):
            if char in "{[":
                try:
                    return decoder.raw_decode(text, start)[0]
                except json.JSONDecodeError:
                    continue
    raise ValueError("no JSON value in the answer")


def valid_json(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """The answer holds a JSON value (bare, fenced, or embedded)."""
    try:
        extract_json(answer)
    except ValueError as exc:
        return _binary(False, str(exc))
    return _binary(True)


@cache
def _validator(schema_text: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry

    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    if '"unevaluatedProperties"' in schema_text and '"patternProperties"' in schema_text:
        # jsonschema matches these with Python's re, which a hostile pattern can hold for hours.
        raise MetricError("json_schema: unevaluatedProperties with patternProperties is not supported")
    # An empty registry that retrieves nothing: a $ref outside the schema itself (http:, file:, ...)
    # is an error, never a fetch or a file read. jsonschema's default would retrieve it.
    return _bounded_validator_class()(schema, registry=Registry(retrieve=_refuse_retrieval))


@cache
def _bounded_validator_class() -> Any:
    """Draft 2020-12 with its regular-expression keywords matched by `regex` under a time bound.

    jsonschema matches `pattern`, `patternProperties` and (beside them) `additionalProperties` with
    Python's re, which holds the GIL: a pattern like ^(\\w+\\s?)*$ against a model's answer froze the
    server for every user. These three keywords are re-stated here with the regex metric's bound."""
    import regex
    from jsonschema import Draft202012Validator, ValidationError, validators

    def search(pattern: str, text: str) -> bool:
        try:
            return regex.search(pattern, text, timeout=SCHEMA_PATTERN_TIMEOUT_S, concurrent=True) is not None
        except TimeoutError as exc:
            raise SchemaPatternTimeoutError(
                f"json_schema: the pattern {pattern!r} took over {SCHEMA_PATTERN_TIMEOUT_S:g} s on this answer"
            ) from exc

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "object"):
            for patrn, subschema in patterns.items():
                for key, value in instance.items():
                    if search(patrn, key):
                        yield from validator.descend(value, subschema, path=key, schema_path=patrn)

    def additional_properties(validator: Any, extra_schema: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        known, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
        extras = [k for k in instance if k not in known and not any(search(p, k) for p in patterns)]
        if validator.is_type(extra_schema, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], extra_schema, path=extra)
        elif not extra_schema and extras:
            yield ValidationError(
                f"additional properties are not allowed ({', '.join(map(repr, sorted(extras)))})"
            )

    keywords = {
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
    }
    return validators.extend(Draft202012Validator, keywords)


SCHEMA_PATTERN_TIMEOUT_S = 1.0


class SchemaPatternTimeoutError(Exception):
    """A schema's pattern ran past its time bound on one answer (that row's score is an error)."""


def _refuse_retrieval(uri: str) -> Any:
    raise LookupError(uri)  # referencing reports it as Unresolvable


def schema_of(options: Mapping[str, Any]) -> str:
    """The option `schema` as canonical JSON text; MetricError when missing or invalid."""
    schema = options.get("schema")
    if not schema:
        raise MetricError("json_schema needs a schema (a JSON Schema document)")
    try:
        text = json.dumps(json.loads(schema) if isinstance(schema, str) else schema, sort_keys=True)
        _validator(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise MetricError(f"json_schema: the schema is not JSON ({exc})") from exc
    except Exception as exc:  # jsonschema.SchemaError
        raise MetricError(f"json_schema: not a valid JSON Schema ({getattr(exc, 'message', exc)})") from exc
    return text


def json_schema(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """The answer's JSON validates against the schema option (jsonschema, draft 2020-12)."""
    try:
        value = extract_json(answer)
    except ValueError as exc:
        return _binary(False, str(exc))
    try:
        errors = sorted(_validator(schema_of(options)).iter_errors(value), key=lambda e: list(e.path))
    except SchemaPatternTimeoutError as exc:
        return Score(None, None, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - an unresolvable $ref (jsonschema wraps it), for this row
        ref = getattr(exc, "ref", None) or str(exc).removeprefix("Unresolvable: ")
        message = f"json_schema: $ref {ref!r} is not allowed (a schema may refer only within itself)"
        return Score(None, None, error=message)
    if errors:
        where = "/".join(map(str, errors[0].path)) or "(root)"
        return _binary(False, f"{where}: {errors[0].message}")
    return _binary(True)


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _first_number(text: str) -> float | None:
    found = _NUMBER.search(_THOUSANDS.sub("", text))
    return float(found.group(0)) if found else None


def numeric(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """The first number in the answer is within rel_tol (default 1%) or abs_tol of the expected one."""
    target = _first_number(expected or "")
    if target is None:
        return Score(None, None, error=f"expected value {expected!r} is not a number")
    got = _first_number(answer)
    if got is None:
        return _binary(False, "no number in the answer")
    ok = math.isclose(
        got, target, rel_tol=float(options.get("rel_tol", 0.01)), abs_tol=float(options.get("abs_tol", 0.0))
    )
    return _binary(ok, f"{got:g} vs {target:g}")


def bleu(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """Sentence BLEU (sacrebleu), scaled to 0..1."""
    import sacrebleu

    return _graded(sacrebleu.sentence_bleu(answer, [expected or ""]).score / 100, options)


def chrf(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """Sentence chrF (sacrebleu), scaled to 0..1."""
    import sacrebleu

    return _graded(sacrebleu.sentence_chrf(answer, [expected or ""]).score / 100, options)


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(answer: str, expected: str | None, options: Mapping[str, Any]) -> Score:
    """ROUGE-L F-measure (rouge-score, with stemming)."""
    return _graded(_rouge_scorer().score(expected or "", answer)["rougeL"].fmeasure, options)


@dataclass(frozen=True)
class Metric:
    """A metric's scoring function and what it needs; `normalisation` is how it compares text by default
    (None: it does not compare text to the expected answer, or, for exact_match, compares it strictly)."""

    name: str
    score: Callable[[str, str | None, Mapping[str, Any]], Score]
    needs_expected: bool
    description: str
    normalisation: Normalisation | None = None

    def applied(self, options: Mapping[str, Any]) -> str | None:
        """The normalisation this metric applied with these options, in words (None: not a text match)."""
        if self.name == "exact_match":
            return STRICT
        if self.normalisation is None:
            return None
        return Normalisation.of(options, self.normalisation).describe()


# The registry: an explicit dict from metric name to metric. The judge is listed for discovery; the
# evaluation runner scores it because it calls a model.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("exact_match", exact_match, True, "answer equals expected; normalisation " + STRICT),
        Metric(
            "quasi_exact_match",
            quasi_exact_match,
            True,
            "answer equals expected after HELM's normalisation: " + HELM_NORMALISATION.describe(),
            HELM_NORMALISATION,
        ),
        Metric(
            "contains",
            contains,
            True,
            "expected text appears in the answer: " + CONTAINS_NORMALISATION.describe(),
            CONTAINS_NORMALISATION,
        ),
        Metric("regex", regex_match, True, "pattern (option or expected column) found in the answer"),
        Metric("valid_json", valid_json, False, "answer holds valid JSON"),
        Metric("json_schema", json_schema, False, "answer's JSON matches a JSON Schema"),
        Metric("numeric", numeric, True, "first number within a tolerance of expected"),
        Metric("bleu", bleu, True, "sentence BLEU (sacrebleu), 0..1"),
        Metric("chrf", chrf, True, "sentence chrF (sacrebleu), 0..1"),
        Metric("rouge_l", rouge_l, True, "ROUGE-L F-measure (rouge-score), 0..1"),
        Metric(
            JUDGE,
            lambda a, e, o: Score(None, None, error="scored by the runner"),
            False,
            "LLM-as-judge, 1..5",
        ),
    )
}


def check_metrics(
    choices: Sequence[MetricChoice], columns: Sequence[str], expected_column: str = "expected"
) -> None:
    """Raise MetricError for an unknown metric, a missing option, or a needed column the dataset lacks."""
    if not choices:
        raise MetricError("choose at least one metric")
    for choice in choices:
        metric = METRICS.get(choice.name)
        if metric is None:
            raise MetricError(f"unknown metric {choice.name!r}; known: {', '.join(METRICS)}")
        needs = metric.needs_expected and not (choice.name == "regex" and choice.options.get("pattern"))
        if needs and expected_column not in columns:
            raise MetricError(
                f"metric {choice.name!r} needs a column of expected answers ({expected_column!r}); "
                f"the dataset has: {', '.join(columns)}"
            )
        if choice.name == "json_schema":
            schema_of(choice.options)


def normalisation_applied(choices: Sequence[MetricChoice]) -> dict[str, str]:
    """Each text-matching metric's normalisation as it was applied, in words, by metric name."""
    applied = {}
    for choice in choices:
        metric = METRICS.get(choice.name)
        words = metric.applied(choice.options) if metric is not None else None
        if words is not None:
            applied[choice.name] = words
    return applied


def score_answer(choice: MetricChoice, answer: str, expected: str | None) -> Score:
    """One non-judge metric on one answer; a failure inside the metric is that row's error, not a zero."""
    try:
        return METRICS[choice.name].score(answer, expected, choice.options)
    except Exception as exc:  # noqa: BLE001 - reported per row
        return Score(None, None, error=f"{choice.name} failed: {exc}")
