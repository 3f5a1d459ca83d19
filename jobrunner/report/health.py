"""Run health from the attempt rows: concurrency over time, sessions and 429s per minute, pacing
per attempt (pure).

Times are seconds since the first session opened. A long history is bucketed so the page stays
small: concurrency keeps each bucket's peak (a dip below the limit is what matters), session
counts are per bucket of one minute or, past :data:`MAX_BUCKETS` minutes, of a round multiple.

Not derivable from the store today: the adaptive limit's own moves (the worker keeps them in
memory; the observed concurrency shows their effect) and 429s answered during connect retries
that later succeeded in place (only an attempt that ended rate-limited is recorded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from jobrunner.store.report_queries import ReportAttempt

#: most points of the concurrency step line, and most buckets of the per-minute charts
MAX_POINTS: Final = 2000
MAX_BUCKETS: Final = 720
_BUCKET_STEPS_S: Final = (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
RATE_LIMITED_KIND: Final = "rate_limited"


@dataclass(frozen=True)
class RunHealth:
    start: datetime | None
    span_s: float
    concurrency: tuple[tuple[float, int], ...]  # (t, sessions open from t on), a step line
    peak_concurrency: int
    bucket_s: int
    sessions: tuple[int, ...]  # sessions opened per bucket
    rate_limited: tuple[int, ...]  # attempts refused with 429 per bucket
    rate_limited_total: int
    #: per attempt with pacing figures: (t, job id, send rate (x realtime), p99 lateness s)
    pacing: tuple[tuple[float, int, float, float | None], ...]


def concurrency_steps(spans: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    """The number of open sessions from each change on; a session ending at ``t`` is closed
    before one starting at ``t`` opens."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    steps: list[tuple[float, int]] = []
    level = 0
    for t, delta in events:
        level += delta
        if steps and steps[-1][0] == t:
            steps[-1] = (t, level)
        else:
            steps.append((t, level))
    return steps


def peak_per_bucket(steps: Sequence[tuple[float, int]], points: int) -> list[tuple[float, int]]:
    """``steps`` thinned to at most ``points`` steps, each keeping its bucket's peak."""
    if len(steps) <= points:
        return list(steps)
    start, end = steps[0][0], steps[-1][0]
    width = (end - start) / points or 1.0
    out: list[tuple[float, int]] = []
    for t, level in steps:
        bucket = start + math.floor((t - start) / width) * width
        if out and out[-1][0] == bucket:
            out[-1] = (bucket, max(out[-1][1], level))
        else:
            out.append((bucket, level))
    out.append(steps[-1])
    return out


def bucket_seconds(span_s: float) -> int:
    """One minute, or the smallest round width that keeps the buckets within MAX_BUCKETS."""
    for step in _BUCKET_STEPS_S:
        if span_s / step <= MAX_BUCKETS:
            return step
    return _BUCKET_STEPS_S[-1]


def _rate_limited(a: ReportAttempt) -> bool:
    return a.error_kind == RATE_LIMITED_KIND or a.http_status == 429


def run_health(attempts: Sequence[ReportAttempt]) -> RunHealth:
    timed = [a for a in attempts if a.started_at is not None]
    if not timed:
        return RunHealth(None, 0.0, (), 0, 60, (), (), 0, ())
    start = min(a.started_at for a in timed if a.started_at is not None)

    def since(t: datetime) -> float:
        return round((t - start).total_seconds(), 3)

    spans = [
        (since(a.started_at), since(a.ended_at))
        for a in timed
        if a.started_at is not None and a.ended_at is not None
    ]
    span_s = max((e for _, e in spans), default=0.0)
    steps = concurrency_steps(spans)
    bucket = bucket_seconds(span_s)
    count = max(1, math.ceil(span_s / bucket) if span_s else 1)
    sessions, limited = [0] * count, [0] * count
    for a in timed:
        assert a.started_at is not None
        index = min(count - 1, int(since(a.started_at) // bucket))
        sessions[index] += 1
        limited[index] += _rate_limited(a)
    pacing = tuple(
        (since(a.started_at), a.job_id, a.send_rate_mean, a.send_p99_lateness_s)
        for a in timed
        if a.started_at is not None and a.send_rate_mean is not None
    )
    return RunHealth(
        start=start,
        span_s=span_s,
        concurrency=tuple(peak_per_bucket(steps, MAX_POINTS)),
        peak_concurrency=max((level for _, level in steps), default=0),
        bucket_s=bucket,
        sessions=tuple(sessions),
        rate_limited=tuple(limited),
        rate_limited_total=sum(_rate_limited(a) for a in attempts),
        pacing=pacing,
    )


__all__ = ["RunHealth", "bucket_seconds", "concurrency_steps", "peak_per_bucket", "run_health"]
