"""The statements of claims and leases: claim, renew, and the two reaps (expired leases, and
the leases of owners whose process is gone), named once and built once like every statement
(``statements`` gathers them per kind of store). ``claims`` binds their values.

The pieces every job-row ending shares live here too, the lowest module of the statements:
the lease columns cleared (:data:`CLEARED`) and the attempt-budget rule (:func:`exhausted_or`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from jobrunner.store.engine import pick_once
from jobrunner.store.records import JobState
from jobrunner.store.schema import jobs
from jobrunner.store.timing import Timing

QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value
#: a job row without a lease
CLEARED: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "claimed_at": None}

#: why a reaped job went back: its lease expired, or its worker's process is gone
EXPIRED_KIND = "lease_expired"
REAP_REASON = "lease expired: the worker stopped renewing it (crashed or hung)"
GONE_KIND = "worker_gone"
GONE_REASON = "the worker's process is gone (crashed or killed); reaped without waiting"


def exhausted_or(if_used_up: Any, otherwise: Any) -> sa.Case[Any]:
    """``if_used_up`` when the attempt budget is used up (see ``endings``), else ``otherwise``."""
    used_up = (jobs.c.attempts - jobs.c.attempt_base) >= jobs.c.max_attempts
    return sa.case((used_up, if_used_up), else_=otherwise)


def claim(t: Timing, columns: Sequence[sa.ColumnElement[Any]], *, by_label: bool) -> sa.Update:
    """Lease up to ``:n`` runnable queued jobs, highest priority, then longest work (``work_s``:
    the audio a row streams), then oldest, in one statement, returning ``columns``
    (``statements.CLAIM_COLUMNS``).

    Longest first because the longest session is the floor of a run's makespan: started last,
    it runs alone at the end while the other sessions idle (BENCHMARKS.md: id order reaches
    0.73 of the ideal makespan at ``-c 32``, longest first 0.96+). The pieces of a long file
    are long too, and share their file's priority, so they go out early.

    ``WITH picked AS MATERIALIZED (SELECT id ... LIMIT :n FOR UPDATE SKIP LOCKED) UPDATE ...
    WHERE id IN (SELECT id FROM picked) RETURNING ...``: the CTE runs once (see
    ``engine.pick_once``), ``SKIP LOCKED`` lets concurrent claimers take different jobs without
    waiting, and ``status = 'queued'`` is checked again by the UPDATE itself. ``attempts`` is
    incremented here, so a worker that dies mid-job has used the attempt.
    """
    pick = (
        sa.select(jobs.c.id)
        .where(jobs.c.status == QUEUED, jobs.c.run_after <= t.now)
        .order_by(jobs.c.priority.desc(), jobs.c.work_s.desc().nulls_last(), jobs.c.id)
        .limit(sa.bindparam("n", type_=sa.Integer()))
        .with_for_update(skip_locked=True)
    )
    if by_label:
        pick = pick.where(jobs.c.label == sa.bindparam("label_"))
    picked = pick_once(pick, "picked")
    return (
        sa.update(jobs)
        .where(jobs.c.id.in_(sa.select(picked.c.id)), jobs.c.status == QUEUED)
        .values(
            status=RUNNING,
            lease_owner=sa.bindparam("owner"),
            lease_expires_at=t.later("expires"),
            claimed_at=t.now,
            attempts=jobs.c.attempts + 1,
            updated_at=t.now,
        )
        .returning(*columns)
    )


def renew(t: Timing) -> sa.Update:
    """Extend ``:owner``'s leases on the ``(id, attempts)`` pairs ``:held``; ``RETURNING id,
    attempts`` names those still held, so a cancelled, reaped or re-claimed attempt drops out.

    Fenced by attempt, not only by owner: after ``cancel`` and ``retry`` the same worker may
    claim the job again, and the old attempt must neither keep the new lease alive nor be kept
    alive by it.
    """
    return (
        sa.update(jobs)
        .where(
            sa.tuple_(jobs.c.id, jobs.c.attempts).in_(sa.bindparam("held", expanding=True)),
            jobs.c.status == RUNNING,
            jobs.c.lease_owner == sa.bindparam("owner"),
        )
        .values(lease_expires_at=t.later("expires"), updated_at=t.now)
        .returning(jobs.c.id, jobs.c.attempts)
    )


def expired(t: Timing) -> tuple[sa.ColumnElement[bool], ...]:
    """Running under a lease that has expired."""
    return (
        jobs.c.status == RUNNING,
        jobs.c.lease_expires_at.is_not(None),
        jobs.c.lease_expires_at < t.now,
    )


def held_by_owners() -> tuple[sa.ColumnElement[bool], ...]:
    """Running under a lease of one of ``:owners`` (processes known to be gone), expired or
    not: a gone owner never renews or writes again."""
    return (
        jobs.c.status == RUNNING,
        jobs.c.lease_owner.in_(sa.bindparam("owners", expanding=True)),
    )


def reap_pick(*where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Running jobs to reap (``where``: :func:`expired` or :func:`held_by_owners`), with what
    their lost attempt row needs.

    ``FOR UPDATE SKIP LOCKED``: two reapers never wait on each other; a row one of them holds
    is that one's to reap.
    """
    return (
        sa.select(
            jobs.c.id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.claimed_at, jobs.c.parent_id
        )
        .where(*where)
        .order_by(jobs.c.id)
        .with_for_update(skip_locked=True)
    )


def reap(t: Timing, kind: str, reason: str, *where: sa.ColumnElement[bool]) -> sa.Update:
    """Back to ``queued``, or ``failed`` when the budget is used up, for picked ids (``:ids``)
    that still match ``where``. ``RETURNING updated_at`` gives the instant the attempt ended,
    in the statement's own clock."""
    return (
        sa.update(jobs)
        .where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)), *where)
        .values(
            status=exhausted_or(JobState.FAILED.value, QUEUED),
            finished_at=exhausted_or(t.now, None),
            last_error=reason,
            error_kind=kind,
            run_after=t.now,
            updated_at=t.now,
            **CLEARED,
        )
        .returning(jobs.c.id, jobs.c.status, jobs.c.updated_at)
    )


__all__ = [
    "CLEARED",
    "EXPIRED_KIND",
    "GONE_KIND",
    "GONE_REASON",
    "QUEUED",
    "REAP_REASON",
    "RUNNING",
    "claim",
    "exhausted_or",
    "expired",
    "held_by_owners",
    "reap",
    "reap_pick",
    "renew",
]
