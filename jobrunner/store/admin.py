"""Operator verbs: ``requeue`` and ``cancel``, run by a person (``jobrunner retry``/``cancel``)
rather than by a worker.

They move many jobs at once, chosen by a :class:`Selector` of top-level jobs (a split job's
pieces move with it, never on their own), and only from the states each verb may move; a
worker holding a cancelled job finds out at its next renewal. Functions run inside the write
transaction the caller opened and take the store's statements.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.store.records import JobState, Selector
from jobrunner.store.rows import chunks, fit_optional, fit_to
from jobrunner.store.schema import jobs
from jobrunner.store.statements import Statements
from jobrunner.store.timing import clock_params


def _selected(
    selector: Selector, allowed: set[JobState], *extra: sa.ColumnElement[bool]
) -> Iterator[Sequence[sa.ColumnElement[bool]]]:
    """WHERE clauses (one set per chunk of named jobs) for jobs matching ``selector`` whose
    state is in ``allowed``, and ``extra``. Paths and labels pass the text rule, so a path
    matches the job it was stored as."""
    states = (
        allowed if selector.states is None else allowed & {JobState(s) for s in selector.states}
    )
    if not states:
        return
    base: list[sa.ColumnElement[bool]] = [
        jobs.c.status.in_(sorted(s.value for s in states)),
        jobs.c.parent_id.is_(None),  # jobs, never their pieces (a split job moves its own)
    ]
    base.extend(extra)
    if selector.label is not None:
        base.append(jobs.c.label == fit_optional(jobs.c.label, selector.label))
    if selector.coverage is not None:
        base.append(jobs.c.coverage == selector.coverage)
    if not selector.ids and not selector.paths:
        yield base
        return
    for ids in chunks(list(selector.ids)):
        yield [*base, jobs.c.id.in_(ids)]
    for paths in chunks([fit_to(jobs.c.path, p) for p in selector.paths]):
        yield [*base, jobs.c.path.in_(paths)]


def _update(
    conn: Connection, stmt: sa.Update, wheres: Iterator[Sequence[sa.ColumnElement[bool]]],
    params: dict[str, object],
) -> list[int]:  # fmt: skip
    done: set[int] = set()
    for where in wheres:
        done.update(conn.execute(stmt.where(*where), params).scalars())
    return sorted(done)


def requeue(
    conn: Connection,
    sql: Statements,
    now: datetime,
    selector: Selector,
    *,
    force: bool = False,
    max_attempts: int | None = None,
    invalid: bool = False,
) -> list[int]:
    """Queue failed or cancelled jobs again (``force``: succeeded ones too; ``invalid``:
    invalid ones too) with a fresh attempt budget. Returns the ids queued.

    A forced re-run keeps the old transcript and turns until a new attempt completes; while it
    waits or runs its state is ``queued``/``running`` like any other job. Of the invalid jobs
    only those a run found invalid go back: a job refused at enqueue has no probed audio to
    stream (fixing its file and enqueueing it again makes a new job).
    """
    allowed = {JobState.FAILED, JobState.CANCELLED}
    if force:
        allowed.add(JobState.SUCCEEDED)
    if invalid:
        allowed.add(JobState.INVALID)
    probed = sa.or_(jobs.c.status != JobState.INVALID.value, jobs.c.frames.is_not(None))
    params = {**clock_params(now), "max_attempts_": max_attempts}
    whole = jobs.c.pieces == 0
    done = _update(conn, sql.requeue, _selected(selector, allowed, probed, whole), params)
    split = _update(conn, sql.pieces.requeue_parents, _selected(selector, allowed), params)
    # a split job runs again as the pieces that did not succeed (all of them when forced)
    _update(conn, sql.requeue, _pieces_of(split, allowed), params)
    return sorted([*done, *split])


def cancel(conn: Connection, sql: Statements, now: datetime, selector: Selector) -> list[int]:
    """Cancel queued or running jobs. A running job's worker finds out at its next lease
    renewal (the id is no longer returned) and its writes are refused from then on."""
    allowed = {JobState.QUEUED, JobState.RUNNING}
    done = _update(conn, sql.cancel, _selected(selector, allowed), clock_params(now))
    _update(conn, sql.cancel, _pieces_of(done, allowed), clock_params(now))  # and their pieces
    return done


def _pieces_of(
    parents: Sequence[int], states: set[JobState]
) -> Iterator[Sequence[sa.ColumnElement[bool]]]:
    """WHERE clauses for the pieces of ``parents`` in ``states`` (one set per chunk)."""
    for chunk in chunks(list(parents)):
        yield [jobs.c.parent_id.in_(chunk), jobs.c.status.in_(sorted(s.value for s in states))]
