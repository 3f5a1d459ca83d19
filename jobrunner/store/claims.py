"""Claims and leases: hand queued jobs to a worker, keep its leases alive, reap the dead ones.

A lease lives on the job row (``lease_owner``, ``lease_expires_at``). A worker renews all its
leases every TTL/3; one that stops renewing (crashed, killed, hung, cut off) loses them when they
expire, and any worker's reaper puts those jobs back in the queue, the lost attempt counted.
Expiry is judged by the statements' clock (``statements.Timing``): on a PostgreSQL store by
the database server's own clock, so machines whose clocks disagree, or step, never expire each
other's live leases.

Functions run inside the write transaction the caller opened and take the store's statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.engine import Connection

from jobrunner.store.records import (
    AttemptOutcome,
    AttemptRecord,
    ClaimedJob,
    JobState,
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
    """Lease up to ``n`` runnable queued jobs to ``owner`` (highest priority, oldest first).

    One statement (``statements.claim``); ``attempts`` is incremented here, so a worker that
    dies mid-job has used the attempt.
    """
    if n <= 0:
        return []
    label = fit_optional(jobs.c.label, label)  # matches the label as intake stored it
    params = {"n": n, "owner": owner, "label_": label, **clock_params(now, expires=lease_ttl)}
    stmt = sql.claim if label is None else sql.claim_by_label
    rows = sorted(conn.execute(stmt, params).mappings(), key=lambda r: (-r["priority"], r["id"]))
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
        )
        for r in rows
    ]


def renew_leases(
    conn: Connection,
    sql: Statements,
    now: datetime,
    owner: str,
    job_ids: Iterable[int],
    ttl: float,
) -> set[int]:
    """Extend ``owner``'s leases; returns the ids still owned (a cancelled or reaped job drops
    out, which is how a running session learns to stop)."""
    when = clock_params(now, expires=ttl)
    kept: set[int] = set()
    for chunk in chunks(sorted(set(job_ids))):
        params = {"ids": list(chunk), "owner": owner, **when}
        kept.update(conn.execute(sql.renew, params).scalars())
    return kept


#: what the reaper records for an attempt whose worker vanished
LOST_KIND = "lease_expired"
LOST_MESSAGE = "lease expired before the attempt ended"


def reap_expired(conn: Connection, sql: Statements, now: datetime) -> ReapResult:
    """Expired leases (the worker died or hung): back to ``queued``, or ``failed`` when the
    budget is used up. The lost attempt is recorded with outcome ``lease_expired``."""
    when = clock_params(now)
    victims = {v.id: v for v in conn.execute(sql.reap_pick, when)}
    if not victims:
        return ReapResult()
    ended: dict[int, JobState] = {}
    lost: list[tuple[int, AttemptRecord, AttemptOutcome]] = []
    for chunk in chunks(sorted(victims)):
        for job_id, status, ended_at in conn.execute(sql.reap, {"ids": list(chunk), **when}):
            ended[job_id] = JobState(status)
            v = victims[job_id]
            record = AttemptRecord(
                number=v.attempts,
                worker=v.lease_owner,
                started_at=v.claimed_at,
                ended_at=ended_at,
                audio_seconds_sent=None,
                error_kind=LOST_KIND,
                error_message=LOST_MESSAGE,
            )
            lost.append((job_id, record, AttemptOutcome.LEASE_EXPIRED))
    insert_attempts(conn, sql, sorted(lost, key=lambda item: item[0]))
    return ReapResult(
        requeued=tuple(i for i, s in sorted(ended.items()) if s is JobState.QUEUED),
        failed=tuple(i for i, s in sorted(ended.items()) if s is JobState.FAILED),
    )
