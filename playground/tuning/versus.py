"""Base vs tuned: a job's held-out examples run on its base model and its tuned model through the project's
evaluation machinery (evals.Evaluation: the Gate, the ledger and the store as any evaluation), and the
metric's difference per example with its 95% interval, beside tokens, latency and cost of each.

Each held-out example is asked as its messages before the last assistant one: the system message (when
every example has the same one) as the evaluation's system prompt, the last user message as the prompt;
the last assistant message is the expected answer. Earlier turns of a multi-turn example are not sent.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playground.core.errors import UsageError
from playground.core.params import Params
from playground.core.specs import ModelSpec
from playground.evals.datasets import Dataset
from playground.evals.history import evaluation_store
from playground.evals.metrics import METRICS, MetricChoice
from playground.evals.runner import EVAL_PARAMS, EvalSetup, Evaluation
from playground.evals.summary import ModelSummary, summarize
from playground.storage.evals import Cell
from playground.tuning.service import Tuning, TuningError

if TYPE_CHECKING:
    from playground.lora import TunedModel

DEFAULT_METRIC = "quasi_exact_match"
STYLE_PARAMS = Params(temperature=0.0, max_tokens=16, seed=1)


@dataclass(frozen=True)
class BaseVsTuned:
    """The held-out split answered by the base and the tuned model: each one's summary (mean with its
    interval, tokens, latency, cost) and the paired difference tuned − base over the examples both scored."""

    eval_id: str  # the evaluation saved in the history (the Evaluate page opens it)
    metric: str
    base: ModelSummary
    tuned: ModelSummary
    paired: int  # examples scored for both
    difference: float | None  # mean of (tuned − base) per example
    ci_low: float | None  # its 95% interval (Student's t on the paired differences, scipy)
    ci_high: float | None

    @property
    def reading(self) -> str:
        """One line: the difference and its interval, or why there is none."""
        if self.difference is None:
            return f"No example was scored for both models on {self.metric}."
        interval = (
            f" (95% interval {self.ci_low:+.3f} to {self.ci_high:+.3f})"
            if self.ci_low is not None and self.ci_high is not None
            else " (no interval from one example)"
        )
        return f"{self.tuned.model} − {self.base.model} on {self.metric}: {self.difference:+.3f}{interval}, {self.paired} examples"


def compare_base_tuned(
    tuning: Tuning, job_id: str, *, tuned: ModelSpec | None = None, metric: str = DEFAULT_METRIC
) -> BaseVsTuned:
    """Run the job's held-out examples on its base and tuned models (default: the job's tuned model as a
    session model) and compare them on `metric`. TuningError when the job has no held-out examples or no
    tuned model; the evaluation's own refusals (the Gate's limits) before anything is sent."""
    job = tuning.job(job_id)
    if not job.saved.holdout:
        raise TuningError(f"job {job_id} kept no held-out examples (its check held none out)")
    dataset, system = _dataset(f"held-out of {job_id}", job.saved.holdout)
    return compare_on(
        tuning, job.saved.model_key, tuned or tuning.tuned_spec(job_id), dataset, metric, system
    )


def compare_on(
    tuning: Tuning,
    base_key: str,
    tuned: ModelSpec,
    dataset: Dataset,
    metric: str = DEFAULT_METRIC,
    system: str | None = None,
    params: Params = EVAL_PARAMS,
) -> BaseVsTuned:
    """Base vs tuned on any held-out `dataset` (columns prompt and expected): a hosted job's split, or the
    shipped set a local LoRA was taught on. The evaluation is saved, admitted and charged as any."""
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))})")
    setup = EvalSetup(
        template="{prompt}",
        models=(base_key, tuned.key),
        metrics=(MetricChoice(metric),),
        system=system,
        params=params,
    )
    specs = {**tuning.specs, tuned.key: tuned}
    store = evaluation_store(tuning.store)
    evaluation = Evaluation(
        setup, dataset, specs, store, keys=tuning.keys, user=tuning.user, gate=tuning.gate
    )
    for _ in evaluation.run():
        pass
    assert evaluation.eval_id is not None
    saved = store.get(evaluation.eval_id)
    cells = saved.cells if saved else []
    base, tuned_summary = summarize(cells, [base_key, tuned.key], [metric])
    return _versus(
        evaluation.eval_id, metric, base, tuned_summary, _paired(cells, base_key, tuned.key, metric)
    )


def compare_local_tune(tuning: Tuning, tuned: TunedModel) -> BaseVsTuned:
    """A local LoRA against its base on the shipped held-out questions, never trained on: the sample's
    answer style, scored by the regex metric (each row's expected answer is the pattern to match)."""
    from playground.lora import sample_heldout_set

    rows = tuple({"prompt": q.question, "expected": q.expected} for q in sample_heldout_set())
    dataset = Dataset("shipped held-out questions (answer style)", ("prompt", "expected"), rows)
    spec = tuning.specs.get(tuned.key)
    if spec is None:
        raise TuningError(f"{tuned.key} is not among the models (its base {tuned.base} is missing)")
    # Greedy and short: the style is in an answer's first words (and 40 answers on a CPU stay quick).
    return compare_on(tuning, tuned.base, spec, dataset, "regex", params=STYLE_PARAMS)


def _dataset(name: str, holdout: Sequence[dict[str, Any]]) -> tuple[Dataset, str | None]:
    rows, systems = [], set()
    for example in holdout:
        messages = example["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        asked = messages[:last]
        users = [m["content"] for m in asked if m["role"] == "user"]
        systems.update(m["content"] for m in asked if m["role"] == "system")
        rows.append({"prompt": users[-1] if users else "", "expected": messages[last]["content"]})
    system = next(iter(systems)) if len(systems) == 1 else None
    return Dataset(name, ("prompt", "expected"), tuple(rows)), system


def _paired(cells: Sequence[Cell], base: str, tuned: str, metric: str) -> list[float]:
    """tuned − base for each example both models were scored on."""
    scored: dict[tuple[str, int], float] = {}
    for cell in cells:
        score = cell.scores.get(metric)
        if score is not None and score.error is None and score.value is not None:
            scored[(cell.model, cell.row_index)] = float(score.value)
    rows = sorted(
        {row for model, row in scored if model == base} & {row for model, row in scored if model == tuned}
    )
    return [scored[(tuned, row)] - scored[(base, row)] for row in rows]


def _versus(
    eval_id: str, metric: str, base: ModelSummary, tuned: ModelSummary, diffs: list[float]
) -> BaseVsTuned:
    mean = statistics.fmean(diffs) if diffs else None
    low = high = None
    if len(diffs) >= 2:
        from scipy import stats

        spread = statistics.stdev(diffs)
        half = stats.t.ppf(0.975, len(diffs) - 1) * spread / math.sqrt(len(diffs))
        low, high = mean - half, mean + half  # type: ignore[operator]
    return BaseVsTuned(eval_id, metric, base, tuned, len(diffs), mean, low, high)
