"""Records become rows here, and only here: every text value passes the store's text rule.

``intake``, ``endings``, ``claims`` (the reaper) and ``admin`` build the values they write with
these functions, so no verb can forget the rule of ``store.text`` for one of its columns: the
text columns and their lengths are read from the schema, not listed by hand. The attempt rows of
every ending, the reaper's included, are inserted by :func:`insert_attempts`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.store.records import AttemptOutcome, AttemptRecord, JobState, NewJob, TurnRow
from jobrunner.store.schema import attempts, jobs, turns
from jobrunner.store.statements import Statements
from jobrunner.store.text import fitted

#: rows or ids per statement (well under every backend's bind parameter limit)
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_ATTEMPT_FIELDS = tuple(f.name for f in dataclasses.fields(AttemptRecord))
_TURN_FIELDS = tuple(f.name for f in dataclasses.fields(TurnRow))


@functools.cache
def _text_columns(table: sa.Table) -> tuple[tuple[str, int | None], ...]:
    """The table's text columns with their length limit (``None`` for ``TEXT``)."""
    return tuple(
        (column.name, column.type.length)
        for column in table.columns
        if isinstance(column.type, sa.String)
    )


def storable_row(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (changed in place) with every text value fitted to its column."""
    for name, limit in _text_columns(table):
        value = values.get(name)
        if isinstance(value, str):
            values[name] = fitted(value, limit)
    return values


def fit_to(column: sa.Column[Any], text: str) -> str:
    """One bound value fitted to ``column`` (a reason, a path in a WHERE clause, ...)."""
    return fitted(text, column.type.length if isinstance(column.type, sa.String) else None)


def fit_optional(column: sa.Column[Any], text: str | None) -> str | None:
    return None if text is None else fit_to(column, text)


def job_row(job: NewJob) -> dict[str, Any]:
    """The row of a new job; the timestamps come from the statement (``insert_jobs``)."""
    invalid = job.reason is not None
    values = {
        "path": job.path,
        "sha256": job.sha256,
        "size_bytes": job.size_bytes,
        "mtime_ns": job.mtime_ns,
        "format": job.format,
        "subtype": job.subtype,
        "sample_rate": job.sample_rate,
        "channels": job.channels,
        "frames": job.frames,
        "duration_s": job.duration_s,
        "work_s": job.duration_s,
        "label": job.label,
        "idempotency_key": job.idempotency_key,
        "fingerprint": job.fingerprint,
        "settings": dict(job.settings),
        "endpoint": job.settings.get("endpoint", "auto"),
        "status": JobState.INVALID.value if invalid else JobState.QUEUED.value,
        "priority": job.priority,
        "attempts": 0,
        "attempt_base": 0,
        "max_attempts": job.max_attempts,
        "lease_owner": None,
        "lease_expires_at": None,
        "claimed_at": None,
        "last_error": job.reason,
        "error_kind": (job.error_kind or "invalid_audio") if invalid else None,
        "born_invalid": invalid,
    }
    return storable_row(jobs, values)


def turn_row(job_id: int, attempt_id: int, turn: TurnRow) -> dict[str, Any]:
    values = {name: getattr(turn, name) for name in _TURN_FIELDS}
    values["turn_index"] = values.pop("index")
    values.update(job_id=job_id, attempt_id=attempt_id)
    return storable_row(turns, values)


def insert_attempts(
    conn: Connection,
    sql: Statements,
    ended: Sequence[tuple[int, AttemptRecord, AttemptOutcome]],
) -> list[int]:
    """Record ended attempts, ``(job id, facts, outcome)`` each; their ids in the same order.

    The one way an attempt row is written: by ``complete``, ``retry_later`` and ``fail`` for
    their own attempt, and by the reaper for the attempts of a worker that vanished.
    """
    if not ended:
        return []
    rows = []
    for job_id, record, outcome in ended:
        values = {name: getattr(record, name) for name in _ATTEMPT_FIELDS}
        values.update(job_id=job_id, outcome=outcome.value)
        rows.append(storable_row(attempts, values))
    return list(conn.execute(sql.insert_attempts, rows).scalars())
