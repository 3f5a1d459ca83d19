"""Pieces in the store: split a claimed job into pieces, and settle a split job as its
pieces end (stitch its transcript when the last one succeeds, fail it when one fails for good).

A job that is not split is its own single piece: it is claimed, leased, retried and reaped as
ever. :func:`split` turns a claimed job into a *split parent*: ``running`` without a lease (so
never claimed and never reaped), ``pieces`` set, the claiming attempt given back; its pieces
are inserted ``queued`` as child rows, inheriting the file's facts, settings, priority, label
and attempt budget. Each piece then lives the life of any job, and every ending of a piece
calls :func:`settle` in the same transaction.

Stitching (:func:`stitch`): the parent's turns are the pieces' turns in time order, their
audio times shifted by the piece's start, ``channel`` = the piece's source channel (0 for the
downmix) and ``turn_index`` renumbered per channel; the parent's transcript is, per channel,
the verbatim concatenation of its pieces' transcripts (themselves the verbatim ``turn.end``
texts), and with several channels the channel texts joined by a newline in channel order.
The pieces keep their own turns and transcripts as their record. The parent's speech fields
are filled by alignment afterwards, like any new transcript.

Functions run inside the write transaction the caller opened and take the store's statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from jobrunner.errors import StoreError
from jobrunner.store.fences import lease_lost
from jobrunner.store.records import AttemptOutcome, AttemptRecord, JobState, PieceRange
from jobrunner.store.rows import chunks, insert_attempts, storable_row
from jobrunner.store.schema import transcripts, turns
from jobrunner.store.statements import Statements
from jobrunner.store.timing import clock_params

#: turn fields in audio seconds of the session: shifted by the piece's start when stitched
_SHIFTED = ("start_audio_s", "first_update_audio_s", "eager_end_audio_s", "end_audio_s")
#: fields alignment fills in for the parent's own transcript
_ALIGNED = ("speech_start_s", "speech_end_s", "start_latency_s", "end_latency_s", "eager_latency_s")
#: how the channel texts of a several-channel transcript are joined, in channel order
CHANNEL_SEPARATOR = "\n"


def piece_key(parent_id: int, index: int) -> str:
    """A piece's idempotency key: unique, and never a content key (those are hex)."""
    return f"piece:{parent_id}:{index}"


def split(
    conn: Connection,
    sql: Statements,
    now: datetime,
    job_id: int,
    owner: str,
    number: int,
    ranges: Sequence[PieceRange],
) -> list[int]:
    """Split claimed job ``job_id`` (attempt ``number`` leased to ``owner``) into ``ranges``;
    returns the pieces' ids. :class:`StoreError` (``LeaseLostError``) when the lease is gone,
    and nothing is written."""
    if len(ranges) < 2:
        raise ValueError("a split needs at least two pieces")
    params = {"job": job_id, "owner": owner, "number": number, "count": len(ranges)}
    parent = conn.execute(sql.pieces.split, params | clock_params(now)).mappings().first()
    if parent is None:
        raise lease_lost(conn, sql, job_id, owner, number)
    rate = parent["sample_rate"]
    if any(piece.source_channel is not None for piece in ranges):
        settings = dict(parent["settings"]) | {"channels": "split"}
        conn.execute(sql.pieces.set_settings, {"job": job_id, "settings_": settings})
    rows: list[dict[str, Any]] = []
    for index, piece in enumerate(ranges):
        seconds = (piece.end_frame - piece.start_frame) / rate
        rows.append(
            dict(parent)
            | {
                "parent_id": job_id,
                "piece_index": index,
                "start_frame": piece.start_frame,
                "end_frame": piece.end_frame,
                "source_channel": piece.source_channel,
                "duration_s": seconds,
                "work_s": seconds,
                "idempotency_key": piece_key(job_id, index),
                "status": JobState.QUEUED.value,
                "attempts": 0,
                "attempt_base": 0,
            }
            | clock_params(now)
        )
    ids: list[int] = []
    for chunk in chunks(rows):
        result = conn.execute(sql.pieces.insert_pieces, list(chunk))
        ids.extend(result.scalars())
    return sorted(ids)


def settle(
    conn: Connection, sql: Statements, now: datetime, parent_id: int, owner: str
) -> JobState | None:
    """A piece of ``parent_id`` ended: stitch the parent when every piece has succeeded, fail
    it when one failed for good (the other pieces run on; their turns are kept for a
    ``retry``, which requeues only the pieces that did not succeed). Returns the parent's new
    state, ``None`` when it did not change."""
    parent = conn.execute(sql.pieces.lock_parent, {"parent": parent_id, **clock_params(now)})
    head = parent.mappings().first()
    if head is None or head["status"] != JobState.RUNNING.value:
        return None
    pieces = list(conn.execute(sql.pieces.piece_states, {"parent": parent_id}).mappings())
    for piece in pieces:
        if piece["status"] in (JobState.FAILED.value, JobState.INVALID.value):
            reason = f"piece {piece['id']}: {piece['last_error'] or 'failed'}"
            params = {
                "parent": parent_id,
                "state": piece["status"],
                "reason": reason,
                "kind": piece["error_kind"],
                **clock_params(now),
            }
            conn.execute(sql.pieces.fail_parent, params)
            return JobState(piece["status"])
    if pieces and all(p["status"] == JobState.SUCCEEDED.value for p in pieces):
        stitch(conn, sql, now, parent_id, owner, head["sample_rate"], pieces)
        return JobState.SUCCEEDED
    return None


def stitch(
    conn: Connection,
    sql: Statements,
    now: datetime,
    parent_id: int,
    owner: str,
    sample_rate: int,
    pieces: Sequence[Any],
) -> None:
    """The parent's turns and transcript from its pieces' (see the module docstring)."""
    order = sorted(pieces, key=lambda p: (p["source_channel"] or 0, p["start_frame"] or 0))
    ids = [p["id"] for p in order]
    by_piece: dict[int, list[Any]] = {i: [] for i in ids}
    for row in conn.execute(sql.pieces.piece_turns, {"ids": ids}).mappings():
        by_piece[row["job_id"]].append(row)
    texts: dict[int, str] = {i: t for i, t in conn.execute(sql.pieces.piece_texts, {"ids": ids})}
    if len(texts) != len(ids):
        raise StoreError(f"job {parent_id}: a succeeded piece has no transcript")
    [number] = conn.execute(sql.pieces.succeed_parent, {"parent": parent_id, **clock_params(now)})
    record = AttemptRecord(
        number=number[0],
        worker=owner,
        started_at=now,
        ended_at=now,
        audio_seconds_sent=sum(p["work_s"] or 0.0 for p in order),
        channel_policy="pieces",
    )
    [attempt_id] = insert_attempts(conn, sql, [(parent_id, record, AttemptOutcome.SUCCEEDED)])
    rows: list[dict[str, Any]] = []
    channel_texts: dict[int, list[str]] = {}
    next_index: dict[int, int] = {}
    for piece in order:
        channel = piece["source_channel"] or 0
        offset = (piece["start_frame"] or 0) / sample_rate
        channel_texts.setdefault(channel, []).append(texts[piece["id"]])
        for turn in by_piece[piece["id"]]:
            values = {c.name: turn[c.name] for c in turns.c if c.name != "id"}
            for name in _SHIFTED:
                if values[name] is not None:
                    values[name] += offset
            values.update(dict.fromkeys(_ALIGNED))
            index = next_index.get(channel, 0)
            next_index[channel] = index + 1
            values.update(
                job_id=parent_id, attempt_id=attempt_id, channel=channel, turn_index=index
            )
            rows.append(values)
    conn.execute(sql.delete_turns, {"job": parent_id})
    conn.execute(sql.delete_transcript, {"job": parent_id})
    for chunk in chunks(rows):
        conn.execute(sql.insert_turns, list(chunk))
    text = CHANNEL_SEPARATOR.join("".join(channel_texts[c]) for c in sorted(channel_texts))
    values = {
        "job_id": parent_id,
        "attempt_id": attempt_id,
        "attempt_number": number[0],
        "text": text,
        "turn_count": len(rows),
    }
    conn.execute(sql.insert_transcript, storable_row(transcripts, values) | clock_params(now))


__all__ = ["CHANNEL_SEPARATOR", "piece_key", "settle", "split", "stitch"]
