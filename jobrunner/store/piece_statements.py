"""The statements of pieces: split a claimed job, settle its parent as pieces end, requeue a
split parent (its pieces go with ``statements.requeue``/``cancel`` and a WHERE); named once
and built once like every statement (``statements`` gathers them per kind of store), bound by
``store.pieces`` and ``admin``.

A split parent is ``running`` without a lease (never claimed, never reaped) with ``pieces``
set; its pieces are rows like any job with ``parent_id`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from jobrunner.store.lease_statements import CLEARED, RUNNING
from jobrunner.store.records import JobState
from jobrunner.store.schema import jobs, transcripts, turns
from jobrunner.store.timing import Timing

#: what a piece copies of its parent (the file's facts and how to stream it)
INHERITED = (
    "path",
    "sha256",
    "size_bytes",
    "mtime_ns",
    "format",
    "subtype",
    "sample_rate",
    "channels",
    "frames",
    "label",
    "fingerprint",
    "settings",
    "priority",
    "max_attempts",
)


@dataclass(frozen=True, eq=False)
class PieceStatements:
    split: sa.Update
    set_settings: sa.Update
    insert_pieces: sa.Insert
    lock_parent: sa.Update
    piece_states: sa.Select[Any]
    piece_turns: sa.Select[Any]
    piece_texts: sa.Select[Any]
    succeed_parent: sa.Update
    fail_parent: sa.Update
    requeue_parents: sa.Update


def split(t: Timing) -> sa.Update:
    """Fenced like an ending (this attempt, leased to this owner): the job stays ``running``
    with ``:count`` pieces, its lease released and the claiming attempt given back (the pieces
    do the work and spend their own attempts); ``RETURNING`` what the pieces inherit."""
    return (
        sa.update(jobs)
        .where(
            jobs.c.id == sa.bindparam("job"),
            jobs.c.status == RUNNING,
            jobs.c.lease_owner == sa.bindparam("owner"),
            jobs.c.attempts == sa.bindparam("number"),
            jobs.c.pieces == 0,
            jobs.c.parent_id.is_(None),
        )
        .values(
            pieces=sa.bindparam("count"),
            attempts=jobs.c.attempts - 1,
            updated_at=t.now,
            **CLEARED,
        )
        .returning(*(jobs.c[name] for name in INHERITED))
    )


def set_settings() -> sa.Update:
    """A job split per channel records it (``channels = "split"``): its turns are per channel,
    and its alignment needs the per-channel speech map."""
    return (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("job"))
        .values(settings=sa.bindparam("settings_", type_=jobs.c.settings.type))
    )


def insert_pieces(t: Timing) -> sa.Insert:
    return (
        sa.insert(jobs)
        .values(run_after=t.now, created_at=t.now, updated_at=t.now)
        .returning(jobs.c.id, sort_by_parameter_order=True)
    )


def lock_parent(t: Timing) -> sa.Update:
    """Touch the split parent ``:parent``, taking its row lock: two pieces ending at once on
    PostgreSQL settle their parent one after the other, and the second sees the first's
    piece committed (no parent is left unstitched because each saw the other still running)."""
    return (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("parent"), jobs.c.pieces > 0)
        .values(updated_at=t.now)
        .returning(jobs.c.status, jobs.c.attempts, jobs.c.sample_rate)
    )


def piece_states() -> sa.Select[Any]:
    return (
        sa.select(
            jobs.c.id,
            jobs.c.status,
            jobs.c.last_error,
            jobs.c.error_kind,
            jobs.c.start_frame,
            jobs.c.source_channel,
            jobs.c.work_s,
        )
        .where(jobs.c.parent_id == sa.bindparam("parent"))
        .order_by(jobs.c.piece_index)
    )


def piece_turns() -> sa.Select[Any]:
    """The current turns of the pieces ``:ids`` (a piece keeps only its current transcript's)."""
    return (
        sa.select(turns)
        .where(turns.c.job_id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(turns.c.job_id, turns.c.channel, turns.c.turn_index)
    )


def piece_texts() -> sa.Select[Any]:
    return sa.select(transcripts.c.job_id, transcripts.c.text).where(
        transcripts.c.job_id.in_(sa.bindparam("ids", expanding=True))
    )


def succeed_parent(t: Timing) -> sa.Update:
    """``running -> succeeded`` once every piece has; the stitch counts as one attempt."""
    return (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("parent"), jobs.c.status == RUNNING)
        .values(
            status=JobState.SUCCEEDED.value,
            attempts=jobs.c.attempts + 1,
            finished_at=t.now,
            updated_at=t.now,
            last_error=None,
            error_kind=None,
            coverage=None,
            uncovered_s=None,
        )
        .returning(jobs.c.attempts)
    )


def fail_parent(t: Timing) -> sa.Update:
    """``running -> :state`` with the reason of the piece that failed for good."""
    return (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("parent"), jobs.c.status == RUNNING)
        .values(
            status=sa.bindparam("state"),
            last_error=sa.bindparam("reason"),
            error_kind=sa.bindparam("kind"),
            finished_at=t.now,
            updated_at=t.now,
        )
        .returning(jobs.c.id)
    )


def requeue_parents(t: Timing) -> sa.Update:
    """A split parent goes back to ``running`` without a lease (its pieces are requeued); the
    caller adds the WHERE of its selection."""
    return (
        sa.update(jobs)
        .where(jobs.c.pieces > 0)
        .values(
            status=RUNNING,
            last_error=None,
            error_kind=None,
            finished_at=None,
            updated_at=t.now,
            **CLEARED,
        )
        .returning(jobs.c.id)
    )


def piece_statements(t: Timing) -> PieceStatements:
    return PieceStatements(
        split=split(t),
        set_settings=set_settings(),
        insert_pieces=insert_pieces(t),
        lock_parent=lock_parent(t),
        piece_states=piece_states(),
        piece_turns=piece_turns(),
        piece_texts=piece_texts(),
        succeed_parent=succeed_parent(t),
        fail_parent=fail_parent(t),
        requeue_parents=requeue_parents(t),
    )


__all__ = ["INHERITED", "PieceStatements", "piece_statements"]
