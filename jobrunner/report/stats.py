"""Distributions as the report shows them: percentiles and a histogram with readable bins (pure).

Percentiles interpolate linearly between order statistics (numpy's default, Hyndman-Fan type
7): with few turns the p99 is the largest value's neighbourhood, not a made-up tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

#: most bins a histogram gets; fewer when the values are few or close together
MAX_BINS: Final = 30
_NICE_STEPS: Final = (1.0, 2.0, 2.5, 5.0)


@dataclass(frozen=True)
class Distribution:
    """A sample's size, percentiles and histogram (``edges`` has one more entry than
    ``counts``); every figure is ``None`` for an empty sample."""

    n: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    edges: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``; ``None`` when there are none."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def nice_step(span: float, bins: int) -> float:
    """A bin width of 1, 2, 2.5 or 5 times a power of ten giving at most ``bins`` bins."""
    if span <= 0 or bins < 1:
        return 1.0
    raw = span / bins
    power = 10.0 ** math.floor(math.log10(raw))
    for step in _NICE_STEPS:
        if step * power >= raw - 1e-12:
            return step * power
    return 10.0 * power


def histogram(values: Sequence[float], max_bins: int = MAX_BINS) -> tuple[list[float], list[int]]:
    """Counts over bins of a nice width that start at a multiple of it; ``([], [])`` for no
    values. Every value falls in exactly one bin (the last bin includes its right edge)."""
    if not values:
        return [], []
    data = np.asarray(values, dtype=np.float64)
    low, high = float(data.min()), float(data.max())
    step = nice_step(high - low, max_bins)
    start = math.floor(low / step) * step
    count = max(1, math.ceil((high - start) / step - 1e-9))
    if start + count * step <= high:
        count += 1
    edges = [round(start + i * step, 9) for i in range(count + 1)]
    counts, _ = np.histogram(data, bins=np.asarray(edges))
    return edges, [int(c) for c in counts]


def distribution(values: Sequence[float], max_bins: int = MAX_BINS) -> Distribution:
    if not values:
        return Distribution(n=0)
    data = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = (float(x) for x in np.percentile(data, [50, 90, 99]))
    edges, counts = histogram(values, max_bins)
    return Distribution(
        n=len(values),
        p50=p50,
        p90=p90,
        p99=p99,
        mean=float(data.mean()),
        min=float(data.min()),
        max=float(data.max()),
        edges=tuple(edges),
        counts=tuple(counts),
    )


__all__ = ["Distribution", "distribution", "histogram", "nice_step", "percentile"]
