"""Percentiles of turn-detection latency (``end_latency_s``), one definition for every report.

``status``, ``jobs --json`` and the run summary all report p50 and p90 by the nearest-rank
rule (the smallest value with at least p of the values at or below it): it is a value that
was measured, not an interpolation, and SQL can pick it with ``ORDER BY ... OFFSET`` on any
database, so a report computed in the store and one computed from exported fields agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: the percentiles every report shows
PERCENTILES = (0.5, 0.9)


def rank(count: int, p: float) -> int:
    """The 0-based index of the ``p`` percentile in ``count`` sorted values (nearest rank)."""
    if count <= 0:
        raise ValueError("no values")
    return min(count - 1, max(0, math.ceil(p * count) - 1))


@dataclass(frozen=True)
class Latencies:
    """p50/p90 of some turns' ``end_latency_s``; ``None`` when no turn has one."""

    turns: int = 0
    p50_s: float | None = None
    p90_s: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Latencies:
        known = sorted(v for v in values if v is not None)
        if not known:
            return cls()
        p50, p90 = (known[rank(len(known), p)] for p in PERCENTILES)
        return cls(len(known), p50, p90)

    def describe(self) -> str:
        """``p50 1.234 s, p90 2.345 s (12 turns)``, or ``-`` without values."""
        if self.p50_s is None or self.p90_s is None:
            return "-"
        turns = f"{self.turns} turn" + ("s" if self.turns != 1 else "")
        return f"p50 {self.p50_s:.3f} s, p90 {self.p90_s:.3f} s ({turns})"


__all__ = ["PERCENTILES", "Latencies", "rank"]
