"""Order statistics of measured figures, and means with 95% intervals (shared by comparisons, evaluations
and speech evaluations)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Order statistics of one metric over n successful runs."""

    n: int
    min: float
    p50: float
    p90: float
    max: float


def spread(values: Iterable[float]) -> Spread | None:
    """Spread of values, or None when there are none (p90 by linear interpolation, inclusive)."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        only = data[0]
        return Spread(1, only, only, only, only)
    p90 = statistics.quantiles(data, n=10, method="inclusive")[8]
    return Spread(len(data), data[0], statistics.median(data), p90, data[-1])


def mean_ci95(
    values: Sequence[float], *, graded: bool = False
) -> tuple[float | None, float | None, float | None]:
    """Mean and its 95% confidence interval (scipy); no interval from one value.

    Pass/fail scores (every value 0 or 1) get the Wilson score interval for a proportion, which stays
    honest for small n and for all-pass or all-fail runs (a t-interval would collapse to a point);
    graded scores get Student's t. `graded`: the values are rates, never pass/fail, even when every one
    is 0 or 1 (a word error rate of 0 on every file).
    """
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    from scipy import stats

    if not graded and all(v in (0.0, 1.0) for v in values):
        interval = stats.binomtest(int(sum(values)), len(values)).proportion_ci(0.95, method="wilson")
        return mean, float(interval.low), float(interval.high)
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, max(0.0, mean - float(half)), min(1.0, mean + float(half))


@dataclass(frozen=True)
class MeanCI:
    """A mean over a set's items with its 95% interval (`mean_ci95`; no interval from fewer than two)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float], *, graded: bool = False) -> MeanCI | None:
        """The mean of `values` with its interval (None: no values); `graded` as for `mean_ci95`."""
        mean, low, high = mean_ci95(values, graded=graded)
        return None if mean is None else cls(mean, low, high, len(values))

    def __str__(self) -> str:
        """'4.2% (1.0–7.4%)': the mean and its interval, in percent."""
        if self.low is None or self.high is None:
            return f"{self.mean:.1%}"
        return f"{self.mean:.1%} ({self.low:.1%}–{self.high:.1%})"

    def to_json(self) -> dict[str, float | int | None]:
        """JSON-ready form."""
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}
