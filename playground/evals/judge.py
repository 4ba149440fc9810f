"""LLM-as-judge: ask a chosen model to score an answer against a rubric, and read its verdict strictly."""

from __future__ import annotations

import json
from dataclasses import dataclass

from playground.evals.metrics import Score, extract_json

DEFAULT_RUBRIC = (
    "Score how well the answer responds to the prompt: correct, complete and concise. "
    "5 = fully correct and clear, 3 = partly correct, 1 = wrong or off-topic."
)
DEFAULT_PASS_SCORE = 4

JUDGE_SYSTEM = (
    "You are a strict evaluator. Read the rubric, the prompt, the reference answer if any, and the answer "
    'to grade. Reply with JSON only: {"reasoning": "<one or two sentences>", "score": <integer 1 to 5>}.'
)


class JudgeParseError(ValueError):
    """The judge's reply holds no usable verdict: an error for that row, never a zero."""


@dataclass(frozen=True)
class Verdict:
    """The judge's score (1..5) and its reasoning."""

    score: int
    reasoning: str

    def as_score(self, pass_score: int = DEFAULT_PASS_SCORE) -> Score:
        """The verdict on the common 0..1 scale: (score − 1) / 4."""
        return Score((self.score - 1) / 4, self.score >= pass_score, f"{self.score}/5: {self.reasoning}")


def judge_prompt(rubric: str, prompt: str, answer: str, expected: str | None) -> str:
    """The user message sent to the judge."""
    parts = [f"Rubric:\n{rubric.strip() or DEFAULT_RUBRIC}", f"Prompt:\n{prompt}"]
    if expected:
        parts.append(f"Reference answer:\n{expected}")
    parts.append(f"Answer to grade:\n{answer}")
    return "\n\n".join(parts)


def parse_verdict(text: str) -> Verdict:
    """Read {"score": 1..5, "reasoning": "..."} from the judge's reply; JudgeParseError otherwise."""
    try:
        value = extract_json(text)
    except ValueError as exc:
        raise JudgeParseError(f"judge reply is not JSON: {text[:120]!r}") from exc
    if not isinstance(value, dict) or "score" not in value:
        raise JudgeParseError(f"judge reply has no score: {json.dumps(value)[:120]}")
    score = value["score"]
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score.strip())
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or score != int(score)
        or not 1 <= score <= 5
    ):
        raise JudgeParseError(f"judge score must be an integer from 1 to 5, got {score!r}")
    return Verdict(int(score), str(value.get("reasoning", "")).strip())
