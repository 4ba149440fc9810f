"""Order statistics of measured figures (shared by comparisons and evaluations)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
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
