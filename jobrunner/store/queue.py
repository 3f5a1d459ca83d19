"""The queue verbs: the only module with write SQL for jobs, attempts, turns and transcripts.

Every function runs inside a write transaction the caller opened (``engine.begin_write``) and
takes ``now`` from the caller's clock. Every state change is one compare-and-swap ``UPDATE``
naming the state it expects (and, for a worker, its lease owner and attempt number); when it
matches no row the verb raises :class:`StaleStateError` / :class:`LeaseLostError` and, because
it raised before writing anything else, the transaction commits nothing.

The attempt number fences a worker's writes: a worker whose lease was reaped, and that then
claimed the same job again, cannot complete the old attempt with the new lease.

Attempt budget: ``attempts`` counts every attempt ever made (it is the attempt number);
``attempt_base`` is its value when the current budget began; the budget is used up when
``attempts - attempt_base >= max_attempts``. ``requeue`` starts a fresh budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.errors import LeaseLostError, StaleStateError, StoreError
from jobrunner.store.engine import insert_ignoring_conflicts, pick_once
from jobrunner.store.records import (
    AttemptOutcome,
    AttemptRecord,
    ClaimedJob,
    Inserted,
    JobState,
    NewJob,
    ReapResult,
    Selector,
    TurnRow,
)
from jobrunner.store.schema import UTCDateTime, attempts, jobs, transcripts, turns

#: rows per statement when a verb takes many ids (well under every backend's parameter limit)
CHUNK = 500

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _budget_used() -> sa.ColumnElement[bool]:
    return (jobs.c.attempts - jobs.c.attempt_base) >= jobs.c.max_attempts


_CLEAR_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


# -- enqueue ----------------------------------------------------------------------------------


def existing_jobs(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    """Job ids by idempotency key, for the keys that already exist."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(keys)):
        rows = conn.execute(
            sa.select(jobs.c.idempotency_key, jobs.c.id).where(jobs.c.idempotency_key.in_(chunk))
        )
        found.update({key: job_id for key, job_id in rows})
    return found


def _job_values(job: NewJob, now: datetime) -> dict[str, Any]:
    invalid = job.reason is not None
    return {
        "path": job.path,
        "sha256": job.sha256,
        "size_bytes": job.size_bytes,
        "format": job.format,
        "subtype": job.subtype,
        "sample_rate": job.sample_rate,
        "channels": job.channels,
        "frames": job.frames,
        "duration_s": job.duration_s,
        "label": job.label,
        "idempotency_key": job.idempotency_key,
        "fingerprint": job.fingerprint,
        "settings": dict(job.settings),
        "status": JobState.INVALID.value if invalid else JobState.QUEUED.value,
        "priority": job.priority,
        "attempts": 0,
        "attempt_base": 0,
        "max_attempts": job.max_attempts,
        "run_after": now,
        "lease_owner": None,
        "lease_expires_at": None,
        "claimed_at": None,
        "last_error": job.reason,
        "error_kind": (job.error_kind or "invalid_audio") if invalid else None,
        "created_at": now,
        "updated_at": now,
        "finished_at": now if invalid else None,
    }


def enqueue_many(conn: Connection, new_jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Insert jobs whose idempotency key is new (``ON CONFLICT DO NOTHING``); input order kept.

    A key seen earlier in the same batch or already stored is reported as not new, with the id
    of the job that holds it.
    """
    first: dict[str, NewJob] = {}
    for job in new_jobs:
        first.setdefault(job.idempotency_key, job)
    ids = existing_jobs(conn, first)
    fresh = [job for key, job in first.items() if key not in ids]
    created: set[str] = set()
    if fresh:
        stmt = insert_ignoring_conflicts(conn, jobs, "idempotency_key").returning(
            jobs.c.idempotency_key, jobs.c.id
        )
        for chunk in _chunks(fresh):
            rows = conn.execute(stmt, [_job_values(job, now) for job in chunk])
            for key, job_id in rows:
                ids[key] = job_id
                created.add(key)
        missing = [job.idempotency_key for job in fresh if job.idempotency_key not in ids]
        ids.update(existing_jobs(conn, missing))  # inserted concurrently by another process
    results: list[Inserted] = []
    for job in new_jobs:
        key = job.idempotency_key
        new = key in created
        created.discard(key)  # a later duplicate in the same batch is not new
        results.append(Inserted(key, ids[key], new))
    return results


# -- worker verbs -----------------------------------------------------------------------------
#
# The worker's verbs run thousands of times per minute, so their statements are built once, with
# bind parameters, and only the values change per call (building a statement costs more CPU
# than SQLite takes to run it). Bind parameter names never equal a column name of the table
# being updated (SQLAlchemy reserves those for the SET clause).

_QUEUED = JobState.QUEUED.value
_RUNNING = JobState.RUNNING.value


def _now() -> sa.BindParameter[datetime]:
    return sa.bindparam("now", type_=UTCDateTime())


_CLAIM_COLUMNS = (
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
)


def _claim_statement(by_label: bool) -> sa.Update:
    pick = (
        sa.select(jobs.c.id)
        .where(jobs.c.status == _QUEUED, jobs.c.run_after <= _now())
        .order_by(jobs.c.priority.desc(), jobs.c.id)
        .limit(sa.bindparam("n", type_=sa.Integer()))
        .with_for_update(skip_locked=True)
    )
    if by_label:
        pick = pick.where(jobs.c.label == sa.bindparam("label_"))
    picked = pick_once(pick, "picked")
    return (
        sa.update(jobs)
        .where(jobs.c.id.in_(sa.select(picked.c.id)), jobs.c.status == _QUEUED)
        .values(
            status=_RUNNING,
            lease_owner=sa.bindparam("owner"),
            lease_expires_at=sa.bindparam("expires", type_=UTCDateTime()),
            claimed_at=_now(),
            attempts=jobs.c.attempts + 1,
            updated_at=_now(),
        )
        .returning(*_CLAIM_COLUMNS)
    )


_CLAIM = {False: _claim_statement(False), True: _claim_statement(True)}


def claim(
    conn: Connection,
    now: datetime,
    n: int,
    owner: str,
    lease_ttl: float,
    label: str | None = None,
) -> list[ClaimedJob]:
    """Lease up to ``n`` runnable queued jobs to ``owner`` (highest priority, oldest first).

    One statement: ``WITH picked AS (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ...
    WHERE id IN (SELECT id FROM picked) RETURNING ...`` (see ``engine.pick_once`` for why the
    pick is a CTE). ``attempts`` is incremented here, so a worker that dies mid-job has used
    the attempt.
    """
    if n <= 0:
        return []
    params = {
        "now": now,
        "n": n,
        "owner": owner,
        "expires": now + timedelta(seconds=lease_ttl),
        "label_": label,
    }
    result = conn.execute(_CLAIM[label is not None], params).mappings()
    rows = sorted(result, key=lambda r: (-r["priority"], r["id"]))
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
        )
        for r in rows
    ]


_RENEW = (
    sa.update(jobs)
    .where(
        jobs.c.id.in_(sa.bindparam("ids", expanding=True)),
        jobs.c.status == _RUNNING,
        jobs.c.lease_owner == sa.bindparam("owner"),
    )
    .values(lease_expires_at=sa.bindparam("expires", type_=UTCDateTime()), updated_at=_now())
    .returning(jobs.c.id)
)


def renew_leases(
    conn: Connection, now: datetime, owner: str, job_ids: Iterable[int], ttl: float
) -> set[int]:
    """Extend ``owner``'s leases; returns the ids still owned (a cancelled or reaped job drops
    out, which is how a running session learns to stop)."""
    expires = now + timedelta(seconds=ttl)
    kept: set[int] = set()
    for chunk in _chunks(sorted(set(job_ids))):
        params = {"ids": list(chunk), "owner": owner, "expires": expires, "now": now}
        kept.update(conn.execute(_RENEW, params).scalars())
    return kept


#: the lease fence: this job, running, leased to this owner (and, with a number, this attempt)
_FENCE = (
    jobs.c.id == sa.bindparam("job"),
    jobs.c.status == _RUNNING,
    jobs.c.lease_owner == sa.bindparam("owner"),
)
_FENCE_ATTEMPT = (*_FENCE, jobs.c.attempts == sa.bindparam("number"))
_CLEARED = {"lease_owner": None, "lease_expires_at": None, "claimed_at": None}


def _exhausted_or(if_used_up: Any, otherwise: Any) -> sa.Case[Any]:
    return sa.case((_budget_used(), if_used_up), else_=otherwise)


_COMPLETE = (
    sa.update(jobs)
    .where(*_FENCE_ATTEMPT)
    .values(
        status=JobState.SUCCEEDED.value,
        finished_at=_now(),
        updated_at=_now(),
        last_error=None,
        error_kind=None,
        **_CLEARED,
    )
    .returning(jobs.c.id)
)
_RETRY = (
    sa.update(jobs)
    .where(*_FENCE_ATTEMPT)
    .values(
        status=_exhausted_or(JobState.FAILED.value, _QUEUED),
        finished_at=_exhausted_or(_now(), None),
        run_after=sa.bindparam("after", type_=UTCDateTime()),
        last_error=sa.bindparam("reason"),
        error_kind=sa.bindparam("kind"),
        updated_at=_now(),
        **_CLEARED,
    )
    .returning(jobs.c.status)
)
_FAIL = (
    sa.update(jobs)
    .where(*_FENCE_ATTEMPT)
    .values(
        status=sa.bindparam("state"),
        finished_at=_now(),
        updated_at=_now(),
        last_error=sa.bindparam("reason"),
        error_kind=sa.bindparam("kind"),
        **_CLEARED,
    )
    .returning(jobs.c.id)
)
_RELEASE = (
    sa.update(jobs)
    .where(*_FENCE)
    .values(status=_QUEUED, attempts=jobs.c.attempts - 1, updated_at=_now(), **_CLEARED)
    .returning(jobs.c.id)
)
_INSERT_ATTEMPT = sa.insert(attempts).returning(attempts.c.id)
_INSERT_TURNS = sa.insert(turns)
_INSERT_TRANSCRIPT = sa.insert(transcripts)
_DELETE_TURNS = sa.delete(turns).where(turns.c.job_id == sa.bindparam("job"))
_DELETE_TRANSCRIPT = sa.delete(transcripts).where(transcripts.c.job_id == sa.bindparam("job"))
_ATTEMPT_FIELDS = tuple(f.name for f in dataclasses.fields(AttemptRecord))
_TURN_FIELDS = tuple(f.name for f in dataclasses.fields(TurnRow))


def _lease_lost(conn: Connection, job_id: int, owner: str, number: int | None) -> StoreError:
    row = conn.execute(
        sa.select(jobs.c.status, jobs.c.lease_owner, jobs.c.attempts).where(jobs.c.id == job_id)
    ).first()
    if row is None:
        return StaleStateError(f"job {job_id} does not exist")
    attempt = f" attempt {number}" if number is not None else ""
    return LeaseLostError(
        f"job {job_id}: lease of {owner}{attempt} is gone "
        f"(job is {row.status}, owner {row.lease_owner or '-'}, attempt {row.attempts})"
    )


def _fenced_update(
    conn: Connection, stmt: sa.Update, job_id: int, owner: str, number: int | None, **params: Any
) -> Any:
    """Run a fenced UPDATE ... RETURNING; raise the typed error when the fence holds no row."""
    params.update(job=job_id, owner=owner)
    if number is not None:
        params["number"] = number
    row = conn.execute(stmt, params).first()
    if row is None:
        raise _lease_lost(conn, job_id, owner, number)
    return row[0]


def _insert_attempt(
    conn: Connection, job_id: int, attempt: AttemptRecord, outcome: AttemptOutcome
) -> int:
    values = {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}
    values.update(job_id=job_id, outcome=outcome.value)
    return int(conn.execute(_INSERT_ATTEMPT, values).scalar_one())


def complete(
    conn: Connection,
    now: datetime,
    job_id: int,
    owner: str,
    attempt: AttemptRecord,
    turn_rows: Sequence[TurnRow],
    transcript: str,
) -> None:
    """Succeed the job: status, attempt row, turns and transcript, all or nothing.

    The previous transcript and turns (a forced re-run) are replaced only here, so a re-run
    that fails leaves them intact.
    """
    _fenced_update(conn, _COMPLETE, job_id, owner, attempt.number, now=now)
    attempt_id = _insert_attempt(conn, job_id, attempt, AttemptOutcome.SUCCEEDED)
    conn.execute(_DELETE_TURNS, {"job": job_id})
    conn.execute(_DELETE_TRANSCRIPT, {"job": job_id})
    rows = []
    for turn in turn_rows:
        values = {name: getattr(turn, name) for name in _TURN_FIELDS}
        values["turn_index"] = values.pop("index")
        values.update(job_id=job_id, attempt_id=attempt_id)
        rows.append(values)
    for chunk in _chunks(rows):
        conn.execute(_INSERT_TURNS, list(chunk))
    conn.execute(
        _INSERT_TRANSCRIPT,
        {
            "job_id": job_id,
            "attempt_id": attempt_id,
            "attempt_number": attempt.number,
            "text": transcript,
            "turn_count": len(turn_rows),
            "created_at": now,
        },
    )


def retry_later(
    conn: Connection,
    now: datetime,
    job_id: int,
    owner: str,
    attempt: AttemptRecord,
    run_after: datetime,
) -> JobState:
    """End a failed attempt and queue the job again from ``run_after``; when the budget is used
    up the job is ``failed`` instead. Returns the state the job ended in."""
    status = _fenced_update(
        conn,
        _RETRY,
        job_id,
        owner,
        attempt.number,
        now=now,
        after=run_after,
        reason=attempt.error_message,
        kind=attempt.error_kind,
    )
    state = JobState(status)
    outcome = AttemptOutcome.FAILED if state is JobState.FAILED else AttemptOutcome.RETRY
    _insert_attempt(conn, job_id, attempt, outcome)
    return state


def fail(
    conn: Connection,
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
    _fenced_update(
        conn, _FAIL, job_id, owner, attempt.number, now=now, state=state.value, reason=reason,
        kind=kind,
    )  # fmt: skip
    if attempt.error_message is None and attempt.error_kind is None:
        attempt = dataclasses.replace(attempt, error_message=reason, error_kind=kind)
    outcome = AttemptOutcome.INVALID if invalid else AttemptOutcome.FAILED
    _insert_attempt(conn, job_id, attempt, outcome)


def release(conn: Connection, now: datetime, job_id: int, owner: str) -> None:
    """Give a running job back without costing the attempt (graceful shutdown)."""
    _fenced_update(conn, _RELEASE, job_id, owner, None, now=now)


def reap_expired(conn: Connection, now: datetime) -> ReapResult:
    """Expired leases (the worker died or hung): back to ``queued``, or ``failed`` when the
    budget is used up. The lost attempt is recorded with outcome ``lease_expired``."""
    expired = [
        jobs.c.status == JobState.RUNNING.value,
        jobs.c.lease_expires_at.is_not(None),
        jobs.c.lease_expires_at < now,
    ]
    victims = conn.execute(
        sa.select(jobs.c.id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.claimed_at)
        .where(*expired)
        .order_by(jobs.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not victims:
        return ReapResult()
    exhausted = _budget_used()
    ended: dict[int, JobState] = {}
    for chunk in _chunks(victims):
        rows = conn.execute(
            sa.update(jobs)
            .where(jobs.c.id.in_([v.id for v in chunk]), *expired)
            .values(
                status=sa.case((exhausted, JobState.FAILED.value), else_=JobState.QUEUED.value),
                finished_at=sa.case((exhausted, sa.literal(now, UTCDateTime)), else_=None),
                last_error="lease expired: the worker stopped renewing it (crashed or hung)",
                error_kind="lease_expired",
                run_after=now,
                claimed_at=None,
                updated_at=now,
                **_CLEAR_LEASE,
            )
            .returning(jobs.c.id, jobs.c.status)
        )
        ended.update({job_id: JobState(status) for job_id, status in rows})
    records = [
        {
            "job_id": v.id,
            "number": v.attempts,
            "channel": 0,
            "worker": v.lease_owner,
            "started_at": v.claimed_at,
            "ended_at": now,
            "outcome": AttemptOutcome.LEASE_EXPIRED.value,
            "error_kind": "lease_expired",
            "error_message": "lease expired before the attempt ended",
        }
        for v in victims
        if v.id in ended
    ]
    if records:
        conn.execute(sa.insert(attempts), records)
    return ReapResult(
        requeued=tuple(i for i, s in ended.items() if s is JobState.QUEUED),
        failed=tuple(i for i, s in ended.items() if s is JobState.FAILED),
    )


# -- operator verbs ---------------------------------------------------------------------------


def _selected(
    selector: Selector, allowed: set[JobState]
) -> Iterator[Sequence[sa.ColumnElement[bool]]]:
    """WHERE clauses (one set per chunk of named jobs) for jobs matching ``selector`` whose
    state is in ``allowed``."""
    states = (
        allowed if selector.states is None else allowed & {JobState(s) for s in selector.states}
    )
    if not states:
        return
    base: list[sa.ColumnElement[bool]] = [jobs.c.status.in_(sorted(s.value for s in states))]
    if selector.label is not None:
        base.append(jobs.c.label == selector.label)
    if not selector.ids and not selector.paths:
        yield base
        return
    for ids in _chunks(list(selector.ids)):
        yield [*base, jobs.c.id.in_(ids)]
    for paths in _chunks(list(selector.paths)):
        yield [*base, jobs.c.path.in_(paths)]


def requeue(
    conn: Connection,
    now: datetime,
    selector: Selector,
    *,
    force: bool = False,
    max_attempts: int | None = None,
) -> list[int]:
    """Queue failed or cancelled jobs again (``force``: succeeded ones too) with a fresh attempt
    budget. Returns the ids queued.

    A forced re-run keeps the old transcript and turns until a new attempt completes; while it
    waits or runs its state is ``queued``/``running`` like any other job.
    """
    allowed = {JobState.FAILED, JobState.CANCELLED}
    if force:
        allowed.add(JobState.SUCCEEDED)
    values: dict[str, Any] = {
        "status": JobState.QUEUED.value,
        "attempt_base": jobs.c.attempts,
        "run_after": now,
        "last_error": None,
        "error_kind": None,
        "finished_at": None,
        "claimed_at": None,
        "updated_at": now,
        **_CLEAR_LEASE,
    }
    if max_attempts is not None:
        values["max_attempts"] = max_attempts
    done: set[int] = set()
    for where in _selected(selector, allowed):
        rows = conn.execute(sa.update(jobs).where(*where).values(values).returning(jobs.c.id))
        done.update(rows.scalars())
    return sorted(done)


def cancel(conn: Connection, now: datetime, selector: Selector) -> list[int]:
    """Cancel queued or running jobs. A running job's worker finds out at its next lease
    renewal (the id is no longer returned) and its writes are refused from then on."""
    done: set[int] = set()
    for where in _selected(selector, {JobState.QUEUED, JobState.RUNNING}):
        rows = conn.execute(
            sa.update(jobs)
            .where(*where)
            .values(
                status=JobState.CANCELLED.value,
                last_error="cancelled",
                error_kind="cancelled",
                finished_at=now,
                claimed_at=None,
                updated_at=now,
                **_CLEAR_LEASE,
            )
            .returning(jobs.c.id)
        )
        done.update(rows.scalars())
    return sorted(done)
