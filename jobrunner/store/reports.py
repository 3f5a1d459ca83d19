"""Read-only queries: ``status``, ``jobs``, one job's attempts (the export stream is in
``stream``).

Nothing here writes. Results are frozen dataclasses of plain values (aware UTC datetimes); how
they read, as text or as the CLI's stable JSON, is the CLI's business (``jobrunner.cli.views``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from jobrunner.owner import parse_owner as owner_id
from jobrunner.store import alignment
from jobrunner.store.records import STATES, JobState
from jobrunner.store.schema import attempts, jobs, turns
from jobrunner.timing.latency import Latencies

#: a top-level job (not a piece): what every listing, count and selection sees
TOP_LEVEL = jobs.c.parent_id.is_(None)


@dataclass(frozen=True)
class JobView:
    """One job as ``jobs`` shows it. ``attempts`` counts every attempt ever made;
    ``max_attempts`` is the count at which the current budget is used up."""

    id: int
    state: str
    attempts: int
    max_attempts: int
    duration_s: float | None
    path: str
    label: str | None
    reason: str | None
    error_kind: str | None
    sha256: str | None
    size_bytes: int | None
    format: str | None
    subtype: str | None
    sample_rate: int | None
    channels: int | None
    frames: int | None
    priority: int
    fingerprint: str
    run_after: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    #: the coverage check's verdict on the current transcript (None: not aligned, no map)
    coverage: str | None = None
    #: mapped speech seconds outside every turn (see jobrunner.timing.coverage)
    uncovered_s: float | None = None


JOB_COLUMNS = (
    jobs.c.id,
    jobs.c.status,
    jobs.c.attempts,
    jobs.c.attempt_base,
    jobs.c.max_attempts,
    jobs.c.duration_s,
    jobs.c.path,
    jobs.c.label,
    jobs.c.last_error,
    jobs.c.error_kind,
    jobs.c.sha256,
    jobs.c.size_bytes,
    jobs.c.format,
    jobs.c.subtype,
    jobs.c.sample_rate,
    jobs.c.channels,
    jobs.c.frames,
    jobs.c.priority,
    jobs.c.fingerprint,
    jobs.c.run_after,
    jobs.c.lease_owner,
    jobs.c.lease_expires_at,
    jobs.c.created_at,
    jobs.c.updated_at,
    jobs.c.finished_at,
    jobs.c.coverage,
    jobs.c.uncovered_s,
)


def job_view(r: RowMapping) -> JobView:
    return JobView(
        id=r["id"],
        state=r["status"],
        attempts=r["attempts"],
        max_attempts=r["attempt_base"] + r["max_attempts"],
        duration_s=r["duration_s"],
        path=r["path"],
        label=r["label"],
        reason=r["last_error"],
        error_kind=r["error_kind"],
        sha256=r["sha256"],
        size_bytes=r["size_bytes"],
        format=r["format"],
        subtype=r["subtype"],
        sample_rate=r["sample_rate"],
        channels=r["channels"],
        frames=r["frames"],
        priority=r["priority"],
        fingerprint=r["fingerprint"],
        run_after=r["run_after"],
        lease_owner=r["lease_owner"],
        lease_expires_at=r["lease_expires_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        finished_at=r["finished_at"],
        coverage=r["coverage"],
        uncovered_s=r["uncovered_s"],
    )


def job_filters(
    states: Iterable[str] | None,
    label: str | None,
    coverage: str | None = None,
    *,
    top_level: bool = True,
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses of a listing; ``top_level``: jobs only, not their pieces (false only for a
    database from before pieces, which has no ``parent_id``)."""
    where: list[sa.ColumnElement[bool]] = [TOP_LEVEL] if top_level else []
    if states is not None:
        where.append(jobs.c.status.in_(sorted(JobState(s).value for s in states)))
    if label is not None:
        where.append(jobs.c.label == label)
    if coverage is not None:
        where.append(jobs.c.coverage == coverage)
    return where


def list_jobs(
    conn: Connection,
    *,
    states: Iterable[str] | None = None,
    label: str | None = None,
    limit: int | None = None,
    after_id: int = 0,
    coverage: str | None = None,
) -> list[JobView]:
    """Jobs in id order, optionally filtered; ``after_id`` pages through them."""
    stmt = (
        sa.select(*JOB_COLUMNS)
        .where(jobs.c.id > after_id, *job_filters(states, label, coverage))
        .order_by(jobs.c.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [job_view(r) for r in conn.execute(stmt).mappings()]


def get_job(conn: Connection, job_id: int) -> JobView | None:
    row = conn.execute(sa.select(*JOB_COLUMNS).where(jobs.c.id == job_id)).mappings().first()
    return None if row is None else job_view(row)


def count_jobs(
    conn: Connection,
    *,
    states: Iterable[str] | None = None,
    label: str | None = None,
    coverage: str | None = None,
) -> int:
    stmt = sa.select(sa.func.count()).select_from(jobs).where(*job_filters(states, label, coverage))
    return int(conn.execute(stmt).scalar_one())


def next_run_after(conn: Connection, label: str | None = None) -> datetime | None:
    """When the earliest queued job becomes claimable (``None``: nothing is queued). A worker
    with nothing to claim but jobs in backoff sleeps until then instead of exiting."""
    where = [jobs.c.status == JobState.QUEUED.value]  # pieces too: a worker claims those
    if label is not None:
        where.append(jobs.c.label == label)
    stmt = sa.select(sa.func.min(jobs.c.run_after)).where(*where)
    value: datetime | None = conn.execute(stmt).scalar_one()
    return value


@dataclass(frozen=True)
class AttemptView:
    id: int
    job_id: int
    number: int
    channel: int
    outcome: str
    worker: str | None
    started_at: datetime | None
    ended_at: datetime | None
    error_kind: str | None
    error_message: str | None
    http_status: int | None
    close_code: int | None
    request_id: str | None
    audio_seconds_sent: float | None
    encoding: str | None
    sample_rate: int | None
    channel_policy: str | None
    send_rate_mean: float | None
    send_max_lead_s: float | None
    send_p99_lateness_s: float | None
    connect_s: float | None
    drain_s: float | None
    endpoint: str | None  # auto, manual or batch; None: recorded before endpoints existed


_ATTEMPT_FIELDS = tuple(f.name for f in dataclasses.fields(AttemptView))


def job_attempts(conn: Connection, job_id: int) -> list[AttemptView]:
    """Every recorded attempt of a job, oldest first."""
    stmt = (
        sa.select(*(attempts.c[name] for name in _ATTEMPT_FIELDS))
        .where(attempts.c.job_id == job_id)
        .order_by(attempts.c.id)
    )
    return [AttemptView(**r) for r in conn.execute(stmt).mappings()]


# -- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    state: str
    jobs: int
    audio_s: float


@dataclass(frozen=True)
class FailureReason:
    error_kind: str | None
    reason: str | None
    jobs: int


@dataclass(frozen=True)
class WorkerView:
    """A worker process seen through its leases: an owner (``host:pid:...``, see
    ``jobrunner.owner``) holding running jobs, one realtime session each.

    ``live`` is False when every lease it holds has expired: it crashed, hung or lost the
    database, and the next reap (any worker's) puts its jobs back in the queue. ``host`` and
    ``pid`` are ``None`` for an owner written in another format.
    """

    owner: str
    running: int
    lease_expires_at: datetime | None  # the latest of its leases
    host: str | None = None
    pid: int | None = None
    job_ids: tuple[int, ...] = ()  # the jobs it is running (its sessions), lowest id first
    live: bool = True


@dataclass(frozen=True)
class StatusReport:
    generated_at: datetime
    total_jobs: int
    total_audio_s: float
    states: tuple[StateCount, ...]  # every state, in lifecycle order, zeros included
    queued_waiting: int  # queued jobs whose run_after (a retry backoff) is still ahead
    oldest_queued: JobView | None
    top_failures: tuple[FailureReason, ...]  # failed and invalid jobs by reason, most first
    workers: tuple[WorkerView, ...]
    #: turns of the stored transcripts that the server's normal close ended (text = last update)
    turns_ended_by_close: int = 0
    #: p50/p90 of end_latency_s over every stored turn aligned with a speech map
    end_latency: Latencies = Latencies()
    #: succeeded jobs whose coverage check found speech outside every turn
    uncovered: int = 0
    #: running jobs split into pieces, and their pieces by state (``jobrunner.pieces``)
    split_running: int = 0
    pieces: dict[str, int] = dataclasses.field(default_factory=dict)

    def count(self, state: str) -> int:
        return next((s.jobs for s in self.states if s.state == state), 0)


#: a split job whose pieces are still at work
_UNFINISHED_SPLIT = sa.and_(jobs.c.pieces > 0, jobs.c.status == JobState.RUNNING.value)


def pieces_of_running(conn: Connection) -> int:
    """Running jobs split into pieces."""
    stmt = sa.select(sa.func.count()).select_from(jobs).where(_UNFINISHED_SPLIT)
    return int(conn.execute(stmt).scalar_one())


def status_report(conn: Connection, now: datetime, *, top: int = 5) -> StatusReport:
    per_state = {
        status: (int(n), float(audio or 0.0))
        for status, n, audio in conn.execute(
            sa.select(jobs.c.status, sa.func.count(), sa.func.sum(jobs.c.duration_s))
            .where(TOP_LEVEL)
            .group_by(jobs.c.status)
        )
    }
    pieces: dict[str, int] = {
        status: int(n)
        for status, n in conn.execute(
            sa.select(jobs.c.status, sa.func.count())
            .where(jobs.c.parent_id.in_(sa.select(jobs.c.id).where(_UNFINISHED_SPLIT)))
            .group_by(jobs.c.status)
        )
    }
    states = tuple(StateCount(s.value, *per_state.get(s.value, (0, 0.0))) for s in STATES)
    queued = sa.and_(jobs.c.status == JobState.QUEUED.value, TOP_LEVEL)
    waiting = conn.execute(
        sa.select(sa.func.count()).select_from(jobs).where(queued, jobs.c.run_after > now)
    ).scalar_one()
    oldest_row = (
        conn.execute(sa.select(*JOB_COLUMNS).where(queued).order_by(jobs.c.id).limit(1))
        .mappings()
        .first()
    )
    failures = conn.execute(
        sa.select(jobs.c.error_kind, jobs.c.last_error, sa.func.count().label("n"))
        .where(jobs.c.status.in_([JobState.FAILED.value, JobState.INVALID.value]), TOP_LEVEL)
        .group_by(jobs.c.error_kind, jobs.c.last_error)
        .order_by(sa.desc("n"), jobs.c.error_kind, jobs.c.last_error)
        .limit(top)
    )
    cut = conn.execute(
        sa.select(sa.func.count())
        .select_from(turns.join(jobs, jobs.c.id == turns.c.job_id))
        .where(turns.c.ended_by == "close", TOP_LEVEL)
    ).scalar_one()
    return StatusReport(
        generated_at=now,
        total_jobs=sum(s.jobs for s in states),
        total_audio_s=sum(s.audio_s for s in states),
        states=states,
        queued_waiting=int(waiting),
        oldest_queued=None if oldest_row is None else job_view(oldest_row),
        top_failures=tuple(FailureReason(kind, reason, int(n)) for kind, reason, n in failures),
        workers=worker_sessions(conn, now),
        turns_ended_by_close=int(cut),
        end_latency=alignment.latency_summary(conn),
        uncovered=alignment.count_uncovered(conn),
        split_running=int(pieces_of_running(conn)),
        pieces={state: int(n) for state, n in pieces.items()},
    )


# -- workers ----------------------------------------------------------------------------------


def parse_owner(owner: str) -> tuple[str | None, int | None]:
    """``(host, pid)`` of a lease owner (``jobrunner.owner``); ``(None, None)`` for other forms."""
    return (None, None) if (held := owner_id(owner)) is None else (held.host, held.pid)


def worker_sessions(conn: Connection, now: datetime) -> tuple[WorkerView, ...]:
    """Every lease owner holding running jobs, with its jobs, by owner.

    The store has no worker table: a worker exists for others exactly as long as it holds
    leases, on whichever machine it runs, which is what a shared PostgreSQL queue needs.
    """
    rows = conn.execute(
        sa.select(jobs.c.lease_owner, jobs.c.id, jobs.c.lease_expires_at)
        .where(jobs.c.status == JobState.RUNNING.value, jobs.c.lease_owner.is_not(None))
        .order_by(jobs.c.lease_owner, jobs.c.id)
    )
    held: dict[str, list[tuple[int, datetime | None]]] = {}
    for owner, job_id, expires in rows:
        held.setdefault(owner, []).append((job_id, expires))
    views = []
    for owner, leases in held.items():
        expiries = [e for _, e in leases if e is not None]
        latest = max(expiries, default=None)
        host, pid = parse_owner(owner)
        views.append(
            WorkerView(
                owner=owner,
                running=len(leases),
                lease_expires_at=latest,
                host=host,
                pid=pid,
                job_ids=tuple(job_id for job_id, _ in leases),
                live=latest is not None and latest >= now,
            )
        )
    return tuple(views)
