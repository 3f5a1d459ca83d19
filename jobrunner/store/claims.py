"""Claims and leases: hand queued jobs to a worker, keep its leases alive, reap the dead ones.

A lease lives on the job row (``lease_owner``, ``lease_expires_at``). A worker renews all its
leases every TTL/3; one that stops renewing (crashed, killed, hung, cut off) loses them when they
expire, and any worker's reaper puts those jobs back in the queue, the lost attempt counted.
Expiry is judged by the statements' clock (``statements.Timing``): on a PostgreSQL store by
the database server's own clock, so machines whose clocks disagree, or step, never expire each
other's live leases.

A worker on the same machine as a lease's owner can tell when that process is gone
(``jobrunner.owner``); :func:`reap_owners` then reaps its leases at once, without waiting for
them to expire. :func:`lease_holders` tells a worker with nothing to claim whom it waits for.

Functions run inside the transaction the caller opened and take the store's statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.store.lease_statements import EXPIRED_KIND, GONE_KIND
from jobrunner.store.pieces import settle
from jobrunner.store.records import (
    AttemptOutcome,
    AttemptRecord,
    ClaimedJob,
    JobState,
    LeaseHolder,
    ReapResult,
)
from jobrunner.store.rows import chunks, fit_optional, insert_attempts
from jobrunner.store.schema import jobs
from jobrunner.store.statements import Statements
from jobrunner.store.timing import clock_params


def claim(
    conn: Connection,
    sql: Statements,
    now: datetime,
    n: int,
    owner: str,
    lease_ttl: float,
    label: str | None = None,
) -> list[ClaimedJob]:
    """Lease up to ``n`` runnable queued jobs to ``owner`` (highest priority, longest work,
    oldest first).

    One statement (``statements.claim``); ``attempts`` is incremented here, so a worker that
    dies mid-job has used the attempt.
    """
    if n <= 0:
        return []
    label = fit_optional(jobs.c.label, label)  # matches the label as intake stored it
    params = {"n": n, "owner": owner, "label_": label, **clock_params(now, expires=lease_ttl)}
    stmt = sql.claim if label is None else sql.claim_by_label
    rows = sorted(conn.execute(stmt, params).mappings(), key=_claim_order)
    return [
        ClaimedJob(
            id=r["id"],
            path=r["path"],
            sha256=r["sha256"],
            format=r["format"],
            subtype=r["subtype"],
            sample_rate=r["sample_rate"],
            channels=r["channels"],
            frames=r["frames"],
            duration_s=r["duration_s"],
            label=r["label"],
            settings=r["settings"],
            attempt=r["attempts"],
            attempts_left=r["max_attempts"] - (r["attempts"] - r["attempt_base"]),
            lease_owner=owner,
            lease_expires_at=r["lease_expires_at"],
            budget_attempt=r["attempts"] - r["attempt_base"],
            size_bytes=r["size_bytes"],
            mtime_ns=r["mtime_ns"],
            parent_id=r["parent_id"],
            piece_index=r["piece_index"],
            start_frame=r["start_frame"],
            end_frame=r["end_frame"],
            source_channel=r["source_channel"],
        )
        for r in rows
    ]


def _claim_order(row: Any) -> tuple[int, float, int]:
    """The claim statement's order (RETURNING gives rows in no particular order)."""
    return -row["priority"], -(row["work_s"] or 0.0), row["id"]


def renew_leases(
    conn: Connection,
    sql: Statements,
    now: datetime,
    owner: str,
    held: Iterable[tuple[int, int]],
    ttl: float,
) -> set[tuple[int, int]]:
    """Extend ``owner``'s leases on ``held`` ``(job id, attempt)`` pairs; returns the pairs
    still held (a cancelled, reaped or re-claimed attempt drops out, which is how its session
    learns to stop)."""
    when = clock_params(now, expires=ttl)
    kept: set[tuple[int, int]] = set()
    for chunk in chunks(sorted(set(held))):
        params = {"held": [tuple(pair) for pair in chunk], "owner": owner, **when}
        kept.update((job_id, number) for job_id, number in conn.execute(sql.renew, params))
    return kept


def lease_holders(conn: Connection, now: datetime, label: str | None = None) -> list[LeaseHolder]:
    """Every owner holding running jobs (with ``label``), when its first and last lease expire
    as seen at ``now``; a read, for a worker deciding whether to wait and whom to reap."""
    stmt = (
        sa.select(
            jobs.c.lease_owner,
            sa.func.count(),
            sa.func.min(jobs.c.lease_expires_at),
            sa.func.max(jobs.c.lease_expires_at),
        )
        .where(
            jobs.c.status == JobState.RUNNING.value,
            jobs.c.lease_owner.is_not(None),
            jobs.c.lease_expires_at.is_not(None),
        )
        .group_by(jobs.c.lease_owner)
        .order_by(jobs.c.lease_owner)
    )
    if label is not None:
        stmt = stmt.where(jobs.c.label == fit_optional(jobs.c.label, label))
    return [
        LeaseHolder(
            owner=owner,
            jobs=int(n),
            expires_in_s=(first - now).total_seconds(),
            last_expires_in_s=(last - now).total_seconds(),
        )
        for owner, n, first, last in conn.execute(stmt)
    ]


def claimable(
    conn: Connection, now: datetime, long_s: float, label: str | None = None
) -> tuple[int, int]:
    """Rows claimable at ``now`` (pieces too), and of those the jobs longer than ``long_s``
    not split yet: what a worker weighs before splitting a job (``run.splitting``)."""
    long = sa.and_(jobs.c.parent_id.is_(None), jobs.c.pieces == 0, jobs.c.work_s > long_s)
    stmt = sa.select(sa.func.count(), sa.func.count().filter(long)).where(
        jobs.c.status == JobState.QUEUED.value, jobs.c.run_after <= now
    )
    if label is not None:
        stmt = stmt.where(jobs.c.label == fit_optional(jobs.c.label, label))
    queued, long_queued = conn.execute(stmt).one()
    return int(queued), int(long_queued)


#: what the reaper records for an attempt whose worker vanished: its lease expired, or its
#: process is known to be gone (``jobrunner.owner``); the outcome is ``lease_expired`` for both
LOST_KIND = EXPIRED_KIND
LOST_MESSAGE = "lease expired before the attempt ended"
GONE_MESSAGE = "the worker's process was gone before the attempt ended"


def reap_expired(conn: Connection, sql: Statements, now: datetime) -> ReapResult:
    """Expired leases (the worker died or hung): back to ``queued``, or ``failed`` when the
    budget is used up. The lost attempt is recorded with outcome ``lease_expired``."""
    when = clock_params(now)
    return _reap(conn, sql, sql.reap_pick, sql.reap, when, LOST_KIND, LOST_MESSAGE)


def reap_owners(
    conn: Connection, sql: Statements, now: datetime, owners: Iterable[str]
) -> ReapResult:
    """The leases of ``owners``, whose processes are gone (``jobrunner.owner.is_gone``), at
    once, expired or not: like :func:`reap_expired`, the lost attempt counts and is recorded
    with outcome ``lease_expired``, its error kind ``worker_gone``."""
    names = sorted(set(owners))
    if not names:
        return ReapResult()
    params = {"owners": names, **clock_params(now)}
    return _reap(conn, sql, sql.reap_owners_pick, sql.reap_owners, params, GONE_KIND, GONE_MESSAGE)


def _reap(
    conn: Connection,
    sql: Statements,
    pick: sa.Select[Any],
    update: sa.Update,
    params: dict[str, Any],
    kind: str,
    message: str,
) -> ReapResult:
    """Pick the victims, end them with ``update``, record each one's lost attempt."""
    victims = {v.id: v for v in conn.execute(pick, params)}
    if not victims:
        return ReapResult()
    ended: dict[int, JobState] = {}
    lost: list[tuple[int, AttemptRecord, AttemptOutcome]] = []
    for chunk in chunks(sorted(victims)):
        for job_id, status, ended_at in conn.execute(update, {"ids": list(chunk), **params}):
            ended[job_id] = JobState(status)
            v = victims[job_id]
            record = AttemptRecord(
                number=v.attempts,
                worker=v.lease_owner,
                started_at=v.claimed_at,
                ended_at=ended_at,
                audio_seconds_sent=None,
                error_kind=kind,
                error_message=message,
            )
            lost.append((job_id, record, AttemptOutcome.LEASE_EXPIRED))
    insert_attempts(conn, sql, sorted(lost, key=lambda item: item[0]))
    parents = {victims[i].parent_id for i, s in ended.items() if s is JobState.FAILED}
    for parent_id in sorted(p for p in parents if p is not None):
        settle(conn, sql, params["now"], parent_id, "reaper")
    return ReapResult(
        requeued=tuple(i for i, s in sorted(ended.items()) if s is JobState.QUEUED),
        failed=tuple(i for i, s in sorted(ended.items()) if s is JobState.FAILED),
    )
