"""Endings: a worker ends its attempt (``complete``, ``retry_later``, ``fail``) or gives the job
back (``release``).

Every ending is one compare-and-swap ``UPDATE`` fenced by the lease: this job, ``running``,
leased to this owner and, except for ``release``, at this attempt number. When the fence holds
no row the verb raises :class:`StaleStateError` / :class:`LeaseLostError` before writing
anything else, so the transaction commits nothing. A piece's ending settles its split parent
in the same transaction (``store.pieces.settle``). The attempt row, and for a success the
turns and transcript, are written in the same transaction as the status.

Attempt budget: ``attempts`` counts every attempt ever made (it is the attempt number);
``attempt_base`` is its value when the current budget began; the budget is used up when
``attempts - attempt_base >= max_attempts`` (``admin.requeue`` starts a fresh one).

Functions run inside the write transaction the caller opened and take the store's statements.
Every text value goes through ``rows`` (the store's text rule): a transcript, a turn, an error
message or a request id the server chose cannot make the final write fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from jobrunner.store.fences import fenced
from jobrunner.store.pieces import settle
from jobrunner.store.records import AttemptOutcome, AttemptRecord, JobState, TurnRow
from jobrunner.store.rows import (
    chunks,
    fit_optional,
    fit_to,
    insert_attempts,
    storable_row,
    turn_row,
)
from jobrunner.store.schema import jobs, transcripts, utc
from jobrunner.store.statements import Statements
from jobrunner.store.timing import clock_params


def complete(
    conn: Connection,
    sql: Statements,
    now: datetime,
    job_id: int,
    owner: str,
    attempt: AttemptRecord,
    turn_rows: Sequence[TurnRow],
    transcript: str,
    *,
    language: str | None = None,
    duration_s: float | None = None,
) -> JobState | None:
    """Succeed the job: status, attempt row, turns and transcript, all or nothing. For a piece,
    its parent's new state when this ending changed it (stitched: ``succeeded``).

    The previous transcript and turns (a forced re-run) are replaced only here, so a re-run
    that fails leaves them intact. ``language``/``duration_s``: what a Manual or Batch answer
    reported, kept with the transcript.
    """
    when = clock_params(now)
    _, parent_id = fenced(conn, sql, sql.complete, job_id, owner, attempt.number, dict(when))
    [attempt_id] = insert_attempts(conn, sql, [(job_id, attempt, AttemptOutcome.SUCCEEDED)])
    conn.execute(sql.delete_turns, {"job": job_id})
    conn.execute(sql.delete_transcript, {"job": job_id})
    rows = [turn_row(job_id, attempt_id, turn) for turn in turn_rows]
    for chunk in chunks(rows):
        conn.execute(sql.insert_turns, list(chunk))
    values = {
        "job_id": job_id,
        "attempt_id": attempt_id,
        "attempt_number": attempt.number,
        "text": transcript,
        "turn_count": len(turn_rows),
        "language": language,
        "duration_s": duration_s,
    }
    conn.execute(sql.insert_transcript, storable_row(transcripts, values) | when)
    if parent_id is not None:
        return settle(conn, sql, now, parent_id, owner)
    return None


def retry_later(
    conn: Connection,
    sql: Statements,
    now: datetime,
    job_id: int,
    owner: str,
    attempt: AttemptRecord,
    run_after: datetime,
) -> JobState:
    """End a failed attempt and queue the job again from ``run_after`` (on the store's clock,
    like ``now``; a server-clock store waits as long on the server's); when the budget is used
    up the job is ``failed`` instead. Returns the state the job ended in."""
    run_after = utc(run_after)
    params = {
        **clock_params(now, after=(run_after - now).total_seconds()),  # the server adds the wait
        "after": run_after,  # exactly as given, for a store whose clock judges
        "reason": fit_optional(jobs.c.last_error, attempt.error_message),
        "kind": fit_optional(jobs.c.error_kind, attempt.error_kind),
    }
    status, parent_id = fenced(conn, sql, sql.retry, job_id, owner, attempt.number, params)
    state = JobState(status)
    outcome = AttemptOutcome.FAILED if state is JobState.FAILED else AttemptOutcome.RETRY
    insert_attempts(conn, sql, [(job_id, attempt, outcome)])
    if parent_id is not None and state is JobState.FAILED:
        settle(conn, sql, now, parent_id, owner)
    return state


def fail(
    conn: Connection,
    sql: Statements,
    now: datetime,
    job_id: int,
    owner: str,
    attempt: AttemptRecord,
    reason: str,
    kind: str,
    *,
    invalid: bool = False,
) -> None:
    """End the job for good: ``failed``, or ``invalid`` when the audio itself is the problem."""
    state = JobState.INVALID if invalid else JobState.FAILED
    params = {
        **clock_params(now),
        "state": state.value,
        "reason": fit_to(jobs.c.last_error, reason),
        "kind": fit_to(jobs.c.error_kind, kind),
    }
    _, parent_id = fenced(conn, sql, sql.fail, job_id, owner, attempt.number, params)
    if attempt.error_message is None and attempt.error_kind is None:
        attempt = dataclasses.replace(attempt, error_message=reason, error_kind=kind)
    outcome = AttemptOutcome.INVALID if invalid else AttemptOutcome.FAILED
    insert_attempts(conn, sql, [(job_id, attempt, outcome)])
    if parent_id is not None:
        settle(conn, sql, now, parent_id, owner)


def release(conn: Connection, sql: Statements, now: datetime, job_id: int, owner: str) -> None:
    """Give a running job back without costing the attempt (graceful shutdown)."""
    fenced(conn, sql, sql.release, job_id, owner, None, clock_params(now))
