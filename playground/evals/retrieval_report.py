"""What retrieval did in an evaluation run with and without it: the score each model gained per metric
(paired by row, with a 95% interval), and, where rows name their gold sources, recall@k and MRR."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from playground.core.stats import mean_ci95
from playground.storage.evals import Cell, StoredEval

GOLD_SEPARATOR = "|"


@dataclass(frozen=True)
class RagGain:
    """One model's mean score with retrieval minus without, over the rows both scored."""

    model: str
    shots: int
    metric: str
    rows: int
    gain: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class RetrievalQuality:
    """How often retrieval found a gold source in its k chunks, and how high (mean reciprocal rank)."""

    rows: int  # rows with gold sources and retrieved chunks
    k: int
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    mrr: float | None
    mrr_low: float | None
    mrr_high: float | None


def rag_gains(saved: StoredEval, metrics: Sequence[str]) -> list[RagGain]:
    """Per model, number of examples and metric: the paired gain retrieval brought (empty unless the
    evaluation ran both ways)."""
    if sorted(saved.setup.get("rag") or [False]) != [False, True]:
        return []
    by_key = {(c.row_index, c.model, c.shots, c.rag): c for c in saved.cells}
    gains = []
    for model in saved.setup["models"]:
        for shots in saved.shots:
            for metric in metrics:
                diffs = [
                    _value(with_rag, metric) - _value(plain, metric)  # type: ignore[operator]
                    for row in range(len(saved.dataset["rows"]))
                    if (plain := by_key.get((row, model, shots, False))) is not None
                    and (with_rag := by_key.get((row, model, shots, True))) is not None
                    and _value(plain, metric) is not None
                    and _value(with_rag, metric) is not None
                ]
                gains.append(RagGain(model, shots, metric, len(diffs), *_paired_ci95(diffs)))
    return gains


def _value(cell: Cell, metric: str) -> float | None:
    score = cell.scores.get(metric)
    return None if score is None or score.error or score.value is None else float(score.value)


def _paired_ci95(diffs: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """Mean difference and Student's t interval, within the −1 to 1 a score difference can take."""
    if not diffs:
        return None, None, None
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, None, None
    from scipy import stats

    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    # A score gain lies between −1 and 1: with few rows the t-interval runs far past that (±6 with 2 rows)
    return mean, max(-1.0, mean - float(half)), min(1.0, mean + float(half))


def retrieval_quality(saved: StoredEval) -> RetrievalQuality | None:
    """recall@k and MRR of the retrieved chunks' documents against each row's gold sources (file names
    in the gold column, separated by "|"); None without a gold column or retrieval."""
    column = saved.setup.get("gold_column")
    if not column or True not in (saved.setup.get("rag") or []):
        return None
    found = {c.row_index: c.retrieved for c in saved.cells if c.rag and c.retrieved}
    hits, ranks = [], []
    for row, data in enumerate(saved.dataset["rows"]):
        gold = {g.strip() for g in str(data.get(column) or "").split(GOLD_SEPARATOR) if g.strip()}
        if not gold or row not in found:
            continue
        rank = next((i + 1 for i, chunk in enumerate(found[row]) if chunk.get("source") in gold), None)
        hits.append(1.0 if rank else 0.0)
        ranks.append(1.0 / rank if rank else 0.0)
    recall, mrr = mean_ci95(hits), mean_ci95(ranks)
    return RetrievalQuality(len(hits), int(saved.setup.get("rag_k") or 5), *recall, *mrr)
