"""The lease fence of a worker's writes: run a fenced ``UPDATE ... RETURNING``, and when it
holds no row say why (the job is gone, or someone else holds it now) as a typed error.
Shared by the endings (``store.endings``) and the split (``store.pieces``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.errors import LeaseLostError, StaleStateError, StoreError
from jobrunner.store.statements import Statements


def lease_lost(
    conn: Connection, sql: Statements, job_id: int, owner: str, number: int | None
) -> StoreError:
    row = conn.execute(sql.lease_state, {"job": job_id}).first()
    if row is None:
        return StaleStateError(f"job {job_id} does not exist")
    attempt = f" attempt {number}" if number is not None else ""
    return LeaseLostError(
        f"job {job_id}: lease of {owner}{attempt} is gone "
        f"(job is {row.status}, owner {row.lease_owner or '-'}, attempt {row.attempts})"
    )


def fenced(
    conn: Connection,
    sql: Statements,
    stmt: sa.Update,
    job_id: int,
    owner: str,
    number: int | None,
    params: dict[str, Any],
) -> Any:
    """Run a fenced UPDATE ... RETURNING; its row, or the typed error when the fence holds
    no row."""
    params.update(job=job_id, owner=owner, number=number)
    row = conn.execute(stmt, params).first()
    if row is None:
        raise lease_lost(conn, sql, job_id, owner, number)
    return row


__all__ = ["fenced", "lease_lost"]
