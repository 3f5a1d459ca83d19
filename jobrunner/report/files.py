"""Per-file figures: one table row per job, and the data of its timeline (pure).

A timeline is kept as compact arrays (one list per turn, the columns named once in
:data:`TURN_FIELDS`) because a report of ten thousand files carries every turn of every file:
objects with repeated keys would double the page for nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jobrunner.report.accuracy import Accuracy
from jobrunner.report.speech import JobSpeech
from jobrunner.report.stats import percentile
from jobrunner.store.report_queries import ReportJob, ReportTurn

TURN_FIELDS: Final = (
    "channel", "index", "start_s", "end_s", "speech_start_s", "speech_end_s", "eager_end_s",
    "eager_ends", "resumes", "end_latency_s", "transcript", "ended_by",
)  # fmt: skip


@dataclass(frozen=True)
class FileRow:
    job_id: int
    path: str
    name: str
    label: str | None
    state: str
    duration_s: float | None
    turns: int
    wer: float | None
    p90_latency_s: float | None  # of end_latency_s over the file's turns
    attempts: int
    coverage: str | None
    reason: str | None


@dataclass(frozen=True)
class Timeline:
    job_id: int
    duration_s: float
    speech: tuple[tuple[tuple[float, float], ...], ...] | None  # per channel, when mapped
    turns: tuple[tuple[Any, ...], ...]  # TURN_FIELDS per turn


def _turn_row(t: ReportTurn) -> tuple[Any, ...]:
    return (
        t.channel, t.turn_index, t.start_s, t.end_s, t.speech_start_s, t.speech_end_s,
        t.eager_end_s, t.eager_ends, t.resumes, t.end_latency_s, t.transcript, t.ended_by,
    )  # fmt: skip


def file_rows(
    jobs: Sequence[ReportJob], speech: Mapping[int, JobSpeech], accuracy: Accuracy | None
) -> tuple[FileRow, ...]:
    wer = {f.job_id: f.wer for f in accuracy.files} if accuracy is not None else {}
    rows = []
    for job in jobs:
        turns = speech[job.id].turns
        latencies = [t.end_latency_s for t in turns if t.end_latency_s is not None]
        rows.append(
            FileRow(
                job_id=job.id,
                path=job.path,
                name=os.path.basename(job.path),
                label=job.label,
                state=job.state,
                duration_s=job.duration_s,
                turns=len(turns),
                wer=wer.get(job.id),
                p90_latency_s=percentile(latencies, 90),
                attempts=job.attempts,
                coverage=speech[job.id].coverage,
                reason=job.reason,
            )
        )
    return tuple(rows)


def timelines(jobs: Sequence[ReportJob], speech: Mapping[int, JobSpeech]) -> tuple[Timeline, ...]:
    out = []
    for job in jobs:
        facts = speech[job.id]
        mapped = facts.speech
        duration = job.duration_s or (mapped.duration_s if mapped is not None else 0.0)
        out.append(
            Timeline(
                job_id=job.id,
                duration_s=duration,
                speech=None
                if mapped is None
                else tuple(tuple((s.start_s, s.end_s) for s in ch) for ch in mapped.channels),
                turns=tuple(_turn_row(t) for t in facts.turns),
            )
        )
    return tuple(out)


__all__ = ["TURN_FIELDS", "FileRow", "Timeline", "file_rows", "timelines"]
