"""Every SQL statement of the queue verbs, named once and built once.

In the spirit of procrastinate's queries file: each statement has a name and a docstring saying
why it is shaped that way, and the verbs (``intake``, ``claims``, ``endings``, ``admin``) only
bind values. The worker's verbs run thousands of times a minute and building a statement costs
more CPU than SQLite takes to run it, so statements are built once per kind of store
(:func:`statements`) with bind parameters. Bind parameter names never equal a column name of the
table being updated (SQLAlchemy reserves those for the SET clause).

Statements tell the time through a ``timing.Timing``: the store's clock, or on PostgreSQL the
database server's, read inside the statement. The claim, renew and reap statements are built in
``lease_statements``; :class:`Statements` gathers them with the others.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobrunner.store import lease_statements as leases
from jobrunner.store.engine import insert_ignoring_conflicts
from jobrunner.store.lease_statements import CLEARED, QUEUED, RUNNING, exhausted_or
from jobrunner.store.piece_statements import PieceStatements, piece_statements
from jobrunner.store.records import JobState
from jobrunner.store.schema import attempts, jobs, transcripts, turns
from jobrunner.store.timing import BOUND, SERVER, Timing

#: what the endings below share with the claim and lease statements (``lease_statements``)
_QUEUED, _RUNNING, _CLEARED, _exhausted_or = QUEUED, RUNNING, CLEARED, exhausted_or

#: what ``claim`` returns: everything the worker needs to stream the job
CLAIM_COLUMNS = (
    jobs.c.id,
    jobs.c.path,
    jobs.c.sha256,
    jobs.c.format,
    jobs.c.subtype,
    jobs.c.sample_rate,
    jobs.c.channels,
    jobs.c.frames,
    jobs.c.duration_s,
    jobs.c.label,
    jobs.c.settings,
    jobs.c.attempts,
    jobs.c.attempt_base,
    jobs.c.max_attempts,
    jobs.c.priority,
    jobs.c.lease_expires_at,
    jobs.c.size_bytes,
    jobs.c.mtime_ns,
    jobs.c.work_s,
    jobs.c.parent_id,
    jobs.c.piece_index,
    jobs.c.start_frame,
    jobs.c.end_frame,
    jobs.c.source_channel,
)


# -- intake ------------------------------------------------------------------------------------


def existing_keys() -> sa.Select[str, int]:
    """Job ids by idempotency key (``:keys`` expands to a chunk of keys)."""
    return sa.select(jobs.c.idempotency_key, jobs.c.id).where(
        jobs.c.idempotency_key.in_(sa.bindparam("keys", expanding=True))
    )


def insert_jobs(dialect: str, t: Timing) -> sa.Insert:
    """``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING key, id``.

    Keys already stored were filtered out before; the conflict clause covers another process
    inserting the same key meanwhile, and ``RETURNING`` tells which rows are ours. A job born
    ``invalid`` (``:born_invalid``) is finished at once.
    """
    return (
        insert_ignoring_conflicts(dialect, jobs, "idempotency_key")
        .values(
            run_after=t.now,
            created_at=t.now,
            updated_at=t.now,
            finished_at=sa.case((sa.bindparam("born_invalid", type_=sa.Boolean()), t.now)),
        )
        .returning(jobs.c.idempotency_key, jobs.c.id)
    )


# -- endings -----------------------------------------------------------------------------------

#: the lease fence: this job, running, leased to this owner
_FENCE = (
    jobs.c.id == sa.bindparam("job"),
    jobs.c.status == _RUNNING,
    jobs.c.lease_owner == sa.bindparam("owner"),
)
#: ... and this attempt: a worker whose lease was reaped and that then claimed the same job
#: again cannot end the old attempt with the new lease
_FENCE_ATTEMPT = (*_FENCE, jobs.c.attempts == sa.bindparam("number"))


def complete(t: Timing) -> sa.Update:
    """Fenced ``running -> succeeded``; the transcript rows follow in the same transaction.
    A new transcript has no coverage verdict until it is aligned (``store.speechmaps``)."""
    return (
        sa.update(jobs)
        .where(*_FENCE_ATTEMPT)
        .values(
            status=JobState.SUCCEEDED.value,
            finished_at=t.now,
            updated_at=t.now,
            last_error=None,
            error_kind=None,
            coverage=None,
            uncovered_s=None,
            **_CLEARED,
        )
        .returning(jobs.c.id, jobs.c.parent_id)
    )


def retry(t: Timing) -> sa.Update:
    """Fenced ``running -> queued`` from the deadline ``after``, or ``failed`` when the budget
    is used up, decided in SQL so no other writer can slip in between; ``RETURNING status``."""
    return (
        sa.update(jobs)
        .where(*_FENCE_ATTEMPT)
        .values(
            status=_exhausted_or(JobState.FAILED.value, _QUEUED),
            finished_at=_exhausted_or(t.now, None),
            run_after=t.later("after"),
            last_error=sa.bindparam("reason"),
            error_kind=sa.bindparam("kind"),
            updated_at=t.now,
            **_CLEARED,
        )
        .returning(jobs.c.status, jobs.c.parent_id)
    )


def fail(t: Timing) -> sa.Update:
    """Fenced ``running -> :state`` (``failed`` or ``invalid``) with the reason."""
    return (
        sa.update(jobs)
        .where(*_FENCE_ATTEMPT)
        .values(
            status=sa.bindparam("state"),
            finished_at=t.now,
            updated_at=t.now,
            last_error=sa.bindparam("reason"),
            error_kind=sa.bindparam("kind"),
            **_CLEARED,
        )
        .returning(jobs.c.id, jobs.c.parent_id)
    )


def release(t: Timing) -> sa.Update:
    """Fenced by owner only: ``running -> queued`` and the attempt given back
    (``attempts - 1``), so a graceful shutdown costs nothing."""
    return (
        sa.update(jobs)
        .where(*_FENCE)
        .values(status=_QUEUED, attempts=jobs.c.attempts - 1, updated_at=t.now, **_CLEARED)
        .returning(jobs.c.id)
    )


def lease_state() -> sa.Select[Any]:
    """Who holds the job now: read only after a fence matched nothing, to say why."""
    return sa.select(jobs.c.status, jobs.c.lease_owner, jobs.c.attempts).where(
        jobs.c.id == sa.bindparam("job")
    )


def insert_attempts() -> sa.Insert:
    """Attempt rows, ids returned in the order given (``complete`` needs its row's id)."""
    return sa.insert(attempts).returning(attempts.c.id, sort_by_parameter_order=True)


def insert_transcript(t: Timing) -> sa.Insert:
    return sa.insert(transcripts).values(created_at=t.now)


def delete_turns() -> sa.Delete:
    """The previous turns of a forced re-run, replaced only by a success."""
    return sa.delete(turns).where(turns.c.job_id == sa.bindparam("job"))


def delete_transcript() -> sa.Delete:
    return sa.delete(transcripts).where(transcripts.c.job_id == sa.bindparam("job"))


# -- operator verbs ----------------------------------------------------------------------------


def requeue(t: Timing) -> sa.Update:
    """Queue again with a fresh budget (``attempt_base = attempts``); the caller adds the WHERE
    of its selection, and ``:max_attempts`` (``NULL`` keeps the job's own)."""
    return (
        sa.update(jobs)
        .values(
            status=_QUEUED,
            attempt_base=jobs.c.attempts,
            max_attempts=sa.func.coalesce(
                sa.bindparam("max_attempts_", type_=sa.Integer()), jobs.c.max_attempts
            ),
            run_after=t.now,
            last_error=None,
            error_kind=None,
            finished_at=None,
            updated_at=t.now,
            **_CLEARED,
        )
        .returning(jobs.c.id)
    )


def cancel(t: Timing) -> sa.Update:
    """``cancelled`` with the lease cleared, so the worker's next renewal finds it gone; the
    caller adds the WHERE of its selection."""
    return (
        sa.update(jobs)
        .values(
            status=JobState.CANCELLED.value,
            last_error="cancelled",
            error_kind="cancelled",
            finished_at=t.now,
            updated_at=t.now,
            **_CLEARED,
        )
        .returning(jobs.c.id)
    )


def server_now() -> sa.Select[datetime]:
    """The database server's clock, for the reports of a store that judges leases by it."""
    return sa.select(SERVER.now)


# -- one set per kind of store -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Statements:
    """The statements of one kind of store: its dialect and its :class:`Timing`."""

    timing: Timing
    existing_keys: sa.Select[str, int]
    insert_jobs: sa.Insert
    claim: sa.Update
    claim_by_label: sa.Update
    renew: sa.Update
    reap_pick: sa.Select[Any]
    reap: sa.Update
    reap_owners_pick: sa.Select[Any]
    reap_owners: sa.Update
    complete: sa.Update
    retry: sa.Update
    fail: sa.Update
    release: sa.Update
    lease_state: sa.Select[Any]
    insert_attempts: sa.Insert
    insert_turns: sa.Insert
    insert_transcript: sa.Insert
    delete_turns: sa.Delete
    delete_transcript: sa.Delete
    requeue: sa.Update
    cancel: sa.Update
    server_now: sa.Select[datetime]
    pieces: PieceStatements


@functools.cache
def statements(dialect: str, server_clock: bool = False) -> Statements:
    """The statements for a store on ``dialect`` (``sqlite``/``postgresql``) telling the time by
    the server's clock (PostgreSQL only) or by bound values; built once per combination."""
    if server_clock and dialect != "postgresql":
        raise ValueError(f"only a PostgreSQL store can judge by the server's clock, not {dialect}")
    t = SERVER if server_clock else BOUND
    return Statements(
        timing=t,
        existing_keys=existing_keys(),
        insert_jobs=insert_jobs(dialect, t),
        claim=leases.claim(t, CLAIM_COLUMNS, by_label=False),
        claim_by_label=leases.claim(t, CLAIM_COLUMNS, by_label=True),
        renew=leases.renew(t),
        reap_pick=leases.reap_pick(*leases.expired(t)),
        reap=leases.reap(t, leases.EXPIRED_KIND, leases.REAP_REASON, *leases.expired(t)),
        reap_owners_pick=leases.reap_pick(*leases.held_by_owners()),
        reap_owners=leases.reap(t, leases.GONE_KIND, leases.GONE_REASON, *leases.held_by_owners()),
        complete=complete(t),
        retry=retry(t),
        fail=fail(t),
        release=release(t),
        lease_state=lease_state(),
        insert_attempts=insert_attempts(),
        insert_turns=sa.insert(turns),
        insert_transcript=insert_transcript(t),
        delete_turns=delete_turns(),
        delete_transcript=delete_transcript(),
        requeue=requeue(t),
        cancel=cancel(t),
        server_now=server_now(),
        pieces=piece_statements(t),
    )
