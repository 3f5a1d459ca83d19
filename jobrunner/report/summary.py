"""The summary figures: jobs and audio per state, speech, wall time and throughput, attempts and
retries, endpoint and model, failure reasons (pure).

Jobs and audio per state are counted exactly as ``jobrunner status`` counts them, so the two
agree. Wall time is the time at least one session was open (the union of the attempts' spans):
a queue run on Monday and retried on Friday did not take five days, and audio-hours per
wall-hour divides the succeeded audio by it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from jobrunner.protocol.batch import BATCH_PATH
from jobrunner.protocol.events import AUTO_PATH
from jobrunner.protocol.manual import MANUAL_PATH
from jobrunner.report.speech import JobSpeech
from jobrunner.store.records import STATES, JobState
from jobrunner.store.report_queries import ReportAttempt, ReportJob
from jobrunner.store.reports import FailureReason, StateCount

#: each endpoint's wire path (protocol.md section 1)
ENDPOINT_PATHS: Final = {"auto": AUTO_PATH, "manual": MANUAL_PATH, "batch": BATCH_PATH}


@dataclass(frozen=True)
class Summary:
    total_jobs: int
    total_audio_s: float
    states: tuple[StateCount, ...]  # every state, lifecycle order, zeros included
    mapped_jobs: int
    speech_s: float | None  # mapped speech of the jobs that have a map
    first_start: datetime | None
    last_end: datetime | None
    wall_s: float  # time with at least one session open
    audio_per_wall: float | None  # succeeded audio hours per wall hour
    attempts: int  # (a split-channel attempt's sessions count once)
    retries: int  # attempts beyond each job's first
    attempts_by_outcome: dict[str, int]
    failed_attempts_by_kind: dict[str, int]
    endpoint: str  # the wire path of the endpoint most jobs use (Auto's when there are none)
    endpoints: dict[str, int]  # jobs per endpoint ("auto", "manual", "batch"), most first
    models: dict[str, int]
    failures: tuple[FailureReason, ...]  # failed and invalid jobs by reason, most first


def busy_seconds(spans: Sequence[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of ``spans``."""
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(spans):
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            total += (current[1] - current[0]).total_seconds()
        current = (start, end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def _counts(values: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def summary(
    jobs: Sequence[ReportJob], attempts: Sequence[ReportAttempt], speech: Mapping[int, JobSpeech]
) -> Summary:
    per_state = {s: [0, 0.0] for s in STATES}
    for job in jobs:
        figure = per_state[JobState(job.state)]
        figure[0] += 1
        figure[1] += job.duration_s or 0.0
    states = tuple(StateCount(s.value, int(n), float(a)) for s, (n, a) in per_state.items())
    spans = [
        (a.started_at, a.ended_at)
        for a in attempts
        if a.started_at is not None and a.ended_at is not None
    ]
    wall = busy_seconds(spans)
    done_audio = per_state[JobState.SUCCEEDED][1]
    mapped = [s.speech_s for s in speech.values() if s.speech_s is not None]
    # a split-channel attempt has one row per session: count attempts once
    once = list({(a.job_id, a.number): a for a in attempts}.values())
    failures = Counter(
        (j.error_kind, j.reason) for j in jobs if j.state in (JobState.FAILED, JobState.INVALID)
    )
    endpoints = _counts([j.endpoint for j in jobs])
    return Summary(
        total_jobs=len(jobs),
        total_audio_s=sum(s.audio_s for s in states),
        states=states,
        mapped_jobs=len(mapped),
        speech_s=sum(mapped) if mapped else None,
        first_start=min((s for s, _ in spans), default=None),
        last_end=max((e for _, e in spans), default=None),
        wall_s=wall,
        audio_per_wall=float(done_audio) / wall if wall > 0 else None,
        attempts=len(once),
        retries=len(once) - len({a.job_id for a in once}),
        attempts_by_outcome=_counts([a.outcome for a in once]),
        failed_attempts_by_kind=_counts(
            [a.error_kind or "unknown" for a in once if a.outcome != "succeeded"]
        ),
        endpoint=ENDPOINT_PATHS[next(iter(endpoints), "auto")],
        endpoints=endpoints,
        models=_counts([j.model or "unknown" for j in jobs]),
        failures=tuple(
            FailureReason(kind, reason, n)
            for (kind, reason), n in sorted(
                failures.items(), key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1] or "")
            )
        ),
    )


__all__ = ["Summary", "busy_seconds", "summary"]
