"""What alignment with a speech map wrote: the turns' speech times, the job's coverage verdict,
and the reports built on them.

Alignment itself happens outside the store (:mod:`jobrunner.run.analysis`): it reads a job's
current transcript with the attempt that produced it (:func:`turns_to_align`) and writes the
turns' speech times and the job's verdict back fenced by that attempt (:func:`save_alignment`),
so a forced re-run that completed meanwhile never gets the old transcript's times. The
statements are :func:`jobrunner.store.speechmaps.speech_statements`'. Functions run inside a
transaction the caller opened.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.store.records import JobState, StoredTurn, TurnSpeech, TurnsToAlign
from jobrunner.store.rows import chunks
from jobrunner.store.schema import jobs, transcripts, turns
from jobrunner.store.speechmaps import (
    HAS_CONTENT,
    SPEECH_COLUMNS,
    TARGET_COLUMNS,
    SpeechStatements,
    target,
)
from jobrunner.timing.latency import PERCENTILES, Latencies, rank


def turns_to_align(conn: Connection, job_id: int) -> TurnsToAlign | None:
    """A job's current transcript with its turns; ``None`` when it has none (or no content)."""
    head = (
        conn.execute(
            sa.select(*TARGET_COLUMNS, transcripts.c.attempt_id)
            .select_from(jobs.join(transcripts, transcripts.c.job_id == jobs.c.id))
            .where(jobs.c.id == job_id, *HAS_CONTENT)
        )
        .mappings()
        .first()
    )
    if head is None:
        return None
    rows = conn.execute(
        sa.select(
            turns.c.channel,
            turns.c.turn_index,
            turns.c.transcript,
            turns.c.start_audio_s,
            turns.c.end_audio_s,
            turns.c.eager_end_audio_s,
        )
        .where(turns.c.job_id == job_id, turns.c.attempt_id == head["attempt_id"])
        .order_by(turns.c.channel, turns.c.turn_index)
    )
    return TurnsToAlign(target(head), head["attempt_id"], tuple(StoredTurn(*r) for r in rows))


def save_alignment(
    conn: Connection,
    sql: SpeechStatements,
    job_id: int,
    attempt_id: int,
    aligned: Sequence[TurnSpeech],
    verdict: str | None,
    uncovered_s: float | None,
) -> bool:
    """Write the turns' speech times and the job's verdict; False (nothing written) when the
    job's transcript is no longer attempt ``attempt_id``'s."""
    fence = {"job": job_id, "attempt": attempt_id}
    if conn.execute(
        sql.set_coverage, {**fence, "verdict": verdict, "missed_s": uncovered_s}
    ).first():
        rows = [
            {
                **fence,
                "lane": t.channel,
                "position": t.index,
                **{f"s_{name}": getattr(t, name) for name in SPEECH_COLUMNS},
            }
            for t in aligned
        ]
        for chunk in chunks(rows):
            conn.execute(sql.set_turn, list(chunk))
        return True
    return False


# -- reports ---------------------------------------------------------------------------------


def end_latencies(conn: Connection, job_ids: Sequence[int]) -> dict[int, list[float]]:
    """Each job's known ``end_latency_s`` values (jobs without any are left out)."""
    found: dict[int, list[float]] = {}
    for chunk in chunks(sorted(set(job_ids))):
        for job_id, value in conn.execute(
            sa.select(turns.c.job_id, turns.c.end_latency_s).where(
                turns.c.job_id.in_(chunk), turns.c.end_latency_s.is_not(None)
            )
        ):
            found.setdefault(job_id, []).append(value)
    return found


def latency_summary(conn: Connection, where: Sequence[sa.ColumnElement[bool]] = ()) -> Latencies:
    """p50/p90 of ``end_latency_s`` over the turns of the jobs matching ``where``, picked by
    the database (``ORDER BY ... OFFSET``), so no value list is held in memory."""
    known = turns.c.end_latency_s.is_not(None)
    # the jobs' turns only, never their pieces' (a split job's turns are stitched from them)
    scope = turns.c.job_id.in_(sa.select(jobs.c.id).where(jobs.c.parent_id.is_(None), *where))
    count = int(
        conn.execute(sa.select(sa.func.count()).select_from(turns).where(known, scope)).scalar_one()
    )
    if count == 0:
        return Latencies()
    values = [
        conn.execute(
            sa.select(turns.c.end_latency_s)
            .where(known, scope)
            .order_by(turns.c.end_latency_s)
            .offset(rank(count, p))
            .limit(1)
        ).scalar_one()
        for p in PERCENTILES
    ]
    return Latencies(count, values[0], values[1])


def count_uncovered(conn: Connection) -> int:
    """Succeeded jobs whose coverage check found speech no turn accounts for."""
    stmt = sa.select(sa.func.count()).where(
        jobs.c.status == JobState.SUCCEEDED.value,
        jobs.c.coverage == "uncovered",
        jobs.c.parent_id.is_(None),
    )
    return int(conn.execute(stmt).scalar_one())


__all__ = [
    "count_uncovered",
    "end_latencies",
    "latency_summary",
    "save_alignment",
    "turns_to_align",
]
