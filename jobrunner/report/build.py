"""Assemble a :class:`Report` from one read of the store, and turn it into JSON.

The JSON (schema ``jobrunner.report/1``) is the report's one data form: ``--json`` prints it and
the HTML page embeds it for its charts and timelines, so the two never disagree. Keys are only
ever added, never renamed or removed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jobrunner.formatting import iso
from jobrunner.report import references as refs
from jobrunner.report.accuracy import Accuracy, accuracy
from jobrunner.report.files import TURN_FIELDS, FileRow, Timeline, file_rows, timelines
from jobrunner.report.health import RunHealth, run_health
from jobrunner.report.speech import job_speech
from jobrunner.report.summary import Summary, summary
from jobrunner.report.turn_figures import TurnDetection, turn_detection
from jobrunner.store import Store
from jobrunner.store.report_queries import ReportSnapshot, ReportTurn

SCHEMA = "jobrunner.report/1"


@dataclass(frozen=True)
class Selection:
    label: str | None = None
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    database: str
    revision: str | None
    head: str
    selection: Selection
    summary: Summary
    accuracy: Accuracy | None
    turn_detection: TurnDetection
    files: tuple[FileRow, ...]
    timelines: tuple[Timeline, ...]
    health: RunHealth
    notes: tuple[str, ...]  # what the report could not show, and why

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(dumps(self))
        return result


def _default(value: Any) -> Any:
    """``json.dumps`` hook: its C encoder walks tuples, lists and numbers itself, which keeps a
    report of ten thousand files fast; only dataclasses and datetimes come here."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(report: Report, *, compact: bool = False) -> str:
    """The report as JSON text (schema ``jobrunner.report/1``)."""
    head = {"schema": SCHEMA, "turn_fields": list(TURN_FIELDS)}
    body = _default(report)
    return json.dumps(
        {**head, **body},
        default=_default,
        ensure_ascii=False,
        separators=(",", ":") if compact else None,
        allow_nan=False,
    )


def _notes(snapshot: ReportSnapshot, turns: TurnDetection, unreadable: int) -> list[str]:
    notes = []
    if snapshot.revision != snapshot.head:
        notes.append(
            f"The database's schema is at revision {snapshot.revision or 'none'}, this "
            f"jobrunner's newest is {snapshot.head}: the report reads what the schema has "
            "(`jobrunner db upgrade` brings it up to date)."
        )
    if snapshot.missing:
        notes.append(
            "This database has no speech map columns or table ("
            + ", ".join(snapshot.missing)
            + "): turn latencies and coverage are shown only where a stored speech map exists."
        )
    if turns.jobs and turns.mapped_jobs < turns.jobs:
        notes.append(
            f"{turns.jobs - turns.mapped_jobs} of {turns.jobs} succeeded files have no speech "
            "map: their turns have event times but no speech times, latencies or coverage."
        )
    if unreadable:
        notes.append(f"{unreadable} stored speech maps are in a format this jobrunner cannot read.")
    return notes


def build_report(
    store: Store,
    *,
    states: Iterable[str] | None = None,
    label: str | None = None,
    references: Path | None = None,
) -> Report:
    """The report of the jobs matching ``states``/``label`` (``None``: all).

    ``references``: a TSV/JSONL file of reference texts; ``None`` looks for sidecar
    ``NAME.txt`` files beside the audio. Raises ``UsageError`` for a bad references file.
    """
    wanted = tuple(sorted(set(states))) if states else ()
    snapshot = store.report_snapshot(states=wanted or None, label=label)
    jobs = snapshot.jobs
    by_job: dict[int, list[ReportTurn]] = {}
    for turn in snapshot.turns:
        by_job.setdefault(turn.job_id, []).append(turn)
    speech, unreadable = job_speech(jobs, by_job, snapshot.speech_maps)
    found = refs.from_file(references, jobs) if references else refs.from_sidecars(jobs)
    text_turns = {j: sum(1 for t in s.turns if t.transcript.strip()) for j, s in speech.items()}
    acc = (
        accuracy(jobs, found, text_turns) if found.by_job or found.unmatched or references else None
    )
    turns = turn_detection(jobs, speech)
    return Report(
        generated_at=store.now(),
        database=store.url,
        revision=snapshot.revision,
        head=snapshot.head,
        selection=Selection(label, wanted),
        summary=summary(jobs, snapshot.attempts, speech),
        accuracy=acc,
        turn_detection=turns,
        files=file_rows(jobs, speech, acc),
        timelines=timelines(jobs, speech),
        health=run_health(snapshot.attempts),
        notes=tuple(_notes(snapshot, turns, unreadable)),
    )


__all__ = ["SCHEMA", "Report", "Selection", "build_report", "dumps"]
