"""Read-only queries behind ``jobrunner report``: a selection of jobs with their attempts, turns,
transcripts and speech maps, in a handful of set-based reads (no query per job).

The report must read databases of every schema revision it may meet (an old file someone mails
along, a shared queue not yet upgraded), and it never writes, so it does not migrate: it reads
what the schema of *this* database has. The columns of revision 0001 are always there; those
of 0002 and 0003 (per turn: ``ended_by``, speech times and latencies; per job: the coverage
verdict; the ``speech_maps`` table) are read when present and come back ``None`` otherwise
(:data:`SPEECH_TURN_COLUMNS`, :data:`SPEECH_JOB_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.errors import MigrationError
from jobrunner.store.reports import job_filters
from jobrunner.store.schema import attempts, jobs, speech_maps, transcripts, turns

#: per-turn columns of revisions 0002/0003, read when the schema has them
SPEECH_TURN_COLUMNS: tuple[tuple[str, type[sa.types.TypeEngine[Any]]], ...] = (
    ("speech_start_s", sa.Float),
    ("speech_end_s", sa.Float),
    ("start_latency_s", sa.Float),
    ("end_latency_s", sa.Float),
    ("eager_latency_s", sa.Float),
    ("ended_by", sa.String),
)
#: per-job columns of the coverage check
SPEECH_JOB_COLUMNS: tuple[tuple[str, type[sa.types.TypeEngine[Any]]], ...] = (
    ("coverage", sa.String),
    ("uncovered_s", sa.Float),
)


@dataclass(frozen=True)
class ReportJob:
    id: int
    path: str
    label: str | None
    state: str
    duration_s: float | None
    channels: int | None
    sha256: str | None
    model: str | None
    #: "auto", "manual" or "batch" as enqueued (jobs from before endpoints: "auto")
    endpoint: str
    reason: str | None
    error_kind: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    transcript: str | None
    coverage: str | None
    uncovered_s: float | None


@dataclass(frozen=True)
class ReportAttempt:
    job_id: int
    number: int
    channel: int
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    error_kind: str | None
    http_status: int | None
    audio_seconds_sent: float | None
    send_rate_mean: float | None
    send_p99_lateness_s: float | None


class ReportTurn(NamedTuple):
    """One stored turn (a named tuple: a report may hold a million)."""

    job_id: int
    channel: int
    turn_index: int
    transcript: str
    start_s: float | None
    end_s: float | None
    eager_end_s: float | None
    eager_ends: int
    resumes: int
    speech_start_s: float | None
    speech_end_s: float | None
    start_latency_s: float | None
    end_latency_s: float | None
    eager_latency_s: float | None
    ended_by: str | None


@dataclass(frozen=True)
class ReportSnapshot:
    """Everything the report reads, as of one read transaction."""

    revision: str | None  # the database's schema revision (None: never migrated)
    head: str  # the newest revision this jobrunner knows
    jobs: tuple[ReportJob, ...]
    attempts: tuple[ReportAttempt, ...]
    turns: tuple[ReportTurn, ...]  # by job id, channel, turn index
    speech_maps: dict[str, str]  # sha256 -> SpeechMap JSON
    #: what this database's schema lacks of the speech map, for the report to say
    missing: tuple[str, ...]


def _present(conn: Connection, table: str) -> set[str] | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(table):
        return None
    return {c["name"] for c in inspector.get_columns(table)}


def _optional(
    table: sa.Table, present: set[str], name: str, type_: type[sa.types.TypeEngine[Any]]
) -> sa.ColumnElement[Any]:
    """``table.name`` when this database has it, else a typed NULL under the same label."""
    if name not in present:
        return sa.cast(sa.null(), type_()).label(name)
    known = table.c.get(name)
    column = known if known is not None else sa.literal_column(f"{table.name}.{name}", type_())
    return column.label(name)


def _speech_maps(conn: Connection, where: Iterable[sa.ColumnElement[bool]]) -> dict[str, str]:
    """The selection's maps by content hash; where one content has several (channel modes,
    detector versions), the newest."""
    if _present(conn, speech_maps.name) is None:
        return {}
    stmt = (
        sa.select(speech_maps.c.sha256, speech_maps.c.map)
        .select_from(speech_maps.join(jobs, jobs.c.sha256 == speech_maps.c.sha256))
        .where(*where)
        .order_by(speech_maps.c.id)
    )
    return {sha: text for sha, text in conn.execute(stmt)}


def read_snapshot(
    conn: Connection,
    revision: str | None,
    head: str,
    *,
    states: Iterable[str] | None,
    label: str | None,
) -> ReportSnapshot:
    """Jobs matching ``states``/``label`` (``None``: all) with everything the report shows.

    Raises :class:`MigrationError` for a database without jobrunner's tables.
    """
    job_cols = _present(conn, "jobs")
    turn_cols = _present(conn, "turns")
    if job_cols is None or turn_cols is None or _present(conn, "attempts") is None:
        raise MigrationError(
            "this database has no jobrunner tables (no jobs/attempts/turns): "
            "is it a jobrunner database? (`jobrunner enqueue` creates one)"
        )
    where = job_filters(states, label, top_level="parent_id" in job_cols)
    job_rows = conn.execute(
        sa.select(
            jobs.c.id,
            jobs.c.path,
            jobs.c.label,
            jobs.c.status,
            jobs.c.duration_s,
            jobs.c.channels,
            jobs.c.sha256,
            jobs.c.settings,
            jobs.c.last_error,
            jobs.c.error_kind,
            jobs.c.attempts,
            jobs.c.created_at,
            jobs.c.finished_at,
            transcripts.c.text,
            *(_optional(jobs, job_cols, n, t) for n, t in SPEECH_JOB_COLUMNS),
        )  # fmt: skip
        .select_from(jobs.outerjoin(transcripts, transcripts.c.job_id == jobs.c.id))
        .where(*where)
        .order_by(jobs.c.id)
    ).all()
    report_jobs = tuple(
        ReportJob(
            id=r.id,
            path=r.path,
            label=r.label,
            state=r.status,
            duration_s=r.duration_s,
            channels=r.channels,
            sha256=r.sha256,
            model=(r.settings or {}).get("model") if isinstance(r.settings, dict) else None,
            endpoint=(r.settings or {}).get("endpoint") or "auto"
            if isinstance(r.settings, dict)
            else "auto",
            reason=r.last_error,
            error_kind=r.error_kind,
            attempts=r.attempts,
            created_at=r.created_at,
            finished_at=r.finished_at,
            transcript=r.text,
            coverage=r.coverage,
            uncovered_s=r.uncovered_s,
        )
        for r in job_rows
    )
    attempt_rows = conn.execute(
        sa.select(
            attempts.c.job_id,
            attempts.c.number,
            attempts.c.channel,
            attempts.c.started_at,
            attempts.c.ended_at,
            attempts.c.outcome,
            attempts.c.error_kind,
            attempts.c.http_status,
            attempts.c.audio_seconds_sent,
            attempts.c.send_rate_mean,
            attempts.c.send_p99_lateness_s,
        )  # fmt: skip
        .select_from(attempts.join(jobs, jobs.c.id == attempts.c.job_id))
        .where(*where)
        .order_by(attempts.c.started_at, attempts.c.id)
    ).all()
    turn_rows = conn.execute(
        sa.select(
            turns.c.job_id,
            turns.c.channel,
            turns.c.turn_index,
            turns.c.transcript,
            turns.c.start_audio_s,
            turns.c.end_audio_s,
            turns.c.eager_end_audio_s,
            turns.c.eager_ends,
            turns.c.resumes,
            *(_optional(turns, turn_cols, n, t) for n, t in SPEECH_TURN_COLUMNS),
        )  # fmt: skip
        .select_from(turns.join(jobs, jobs.c.id == turns.c.job_id))
        .where(*where)
        .order_by(turns.c.job_id, turns.c.channel, turns.c.turn_index)
    ).all()
    missing = [f"turns.{n}" for n, _ in SPEECH_TURN_COLUMNS if n not in turn_cols] + [
        f"jobs.{n}" for n, _ in SPEECH_JOB_COLUMNS if n not in job_cols
    ]
    if _present(conn, speech_maps.name) is None:
        missing.append(f"the {speech_maps.name} table")
    return ReportSnapshot(
        revision=revision,
        head=head,
        jobs=report_jobs,
        attempts=tuple(ReportAttempt(*r) for r in attempt_rows),
        turns=tuple(ReportTurn(*r) for r in turn_rows),
        speech_maps=_speech_maps(conn, where),
        missing=tuple(missing),
    )


__all__ = ["ReportAttempt", "ReportJob", "ReportSnapshot", "ReportTurn", "read_snapshot"]
