"""Intake: new jobs go in once per idempotency key.

Like every verb module, its functions run inside the write transaction the caller opened
(``engine.begin_write``) and take the statements of the caller's store (``statements``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from jobrunner.store.records import Inserted, NewJob
from jobrunner.store.rows import chunks, fit_to, job_row
from jobrunner.store.schema import jobs
from jobrunner.store.statements import Statements
from jobrunner.store.timing import clock_params


def _stored(key: str) -> str:
    """A key as the text rule stores it (our keys are hex: the same); callers keep theirs."""
    return fit_to(jobs.c.idempotency_key, key)


def existing_jobs(conn: Connection, sql: Statements, keys: Iterable[str]) -> dict[str, int]:
    """Job ids by idempotency key (as given), for the keys that already exist."""
    given = {_stored(key): key for key in keys}
    found: dict[str, int] = {}
    for chunk in chunks(list(given)):
        for key, job_id in conn.execute(sql.existing_keys, {"keys": list(chunk)}):
            found[given[key]] = job_id
    return found


def enqueue_many(
    conn: Connection, sql: Statements, new_jobs: Sequence[NewJob], now: datetime
) -> list[Inserted]:
    """Insert jobs whose idempotency key is new (``ON CONFLICT DO NOTHING``); input order kept.

    A key seen earlier in the same batch or already stored is reported as not new, with the id
    of the job that holds it.
    """
    first: dict[str, NewJob] = {}
    for job in new_jobs:
        first.setdefault(job.idempotency_key, job)
    ids = existing_jobs(conn, sql, first)
    fresh = [job for key, job in first.items() if key not in ids]
    created: set[str] = set()
    if fresh:
        given = {_stored(job.idempotency_key): job.idempotency_key for job in fresh}
        when = clock_params(now)
        for chunk in chunks(fresh):
            rows = conn.execute(sql.insert_jobs, [job_row(job) | when for job in chunk])
            for key, job_id in rows:
                ids[given[key]] = job_id
                created.add(given[key])
        missing = [job.idempotency_key for job in fresh if job.idempotency_key not in ids]
        ids.update(existing_jobs(conn, sql, missing))  # inserted concurrently by another process
    results: list[Inserted] = []
    for job in new_jobs:
        key = job.idempotency_key
        new = key in created
        created.discard(key)  # a later duplicate in the same batch is not new
        results.append(Inserted(key, ids[key], new))
    return results
