"""The export stream: jobs with their current transcript and turns, in constant memory.

Keyset pagination on ``jobs.id`` (never ``OFFSET``), one short read transaction per page, so a
long export never pins a snapshot or holds a connection between pages, and a million turns cost
no more memory than one page (at most ``page_size`` jobs and, unless a single job has more,
``max_turns`` turns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jobrunner.store.reports import JOB_COLUMNS, JobView, job_filters, job_view
from jobrunner.store.schema import attempts, jobs, transcripts, turns


class TurnView(NamedTuple):
    """One stored turn. A named tuple, not a dataclass: an export builds a million of them,
    and a frozen dataclass costs several times more to construct."""

    index: int  # type: ignore[assignment]  # shadows tuple.index(), which no caller needs
    channel: int
    transcript: str
    start_audio_s: float | None
    first_update_audio_s: float | None
    eager_end_audio_s: float | None
    end_audio_s: float | None
    updates: int
    eager_ends: int
    resumes: int
    start_wall_s: float | None
    end_wall_s: float | None
    ended_by: str  # "turn.end", or "close" (the server's normal close ended the turn)
    # aligned with the speech map (None: no map, or the map cannot say)
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    start_latency_s: float | None = None
    end_latency_s: float | None = None
    eager_latency_s: float | None = None
    # [{"word", "start", "end"}, ...] (Manual, Batch); None: the endpoint gave none (Auto)
    words: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ExportJob:
    """A job with its current transcript (``None`` until an attempt succeeded) and turns.

    ``request_id``/``encoding``/``attempt`` come from the attempt that produced the transcript,
    or from the latest attempt when there is no transcript.
    """

    job: JobView
    settings: dict[str, Any]
    transcript: str | None
    transcript_attempt: int | None
    request_id: str | None
    encoding: str | None
    turns: tuple[TurnView, ...]


#: the turn columns in :class:`TurnView` field order
_TURN_COLUMNS = tuple(turns.c.turn_index if n == "index" else turns.c[n] for n in TurnView._fields)


def _export_page(
    conn: Connection,
    after_id: int,
    where: Sequence[sa.ColumnElement[bool]],
    page_size: int,
    max_turns: int,
) -> list[ExportJob]:
    rows = (
        conn.execute(
            sa.select(*JOB_COLUMNS, jobs.c.settings, transcripts.c.turn_count)
            .select_from(jobs.outerjoin(transcripts, transcripts.c.job_id == jobs.c.id))
            .where(jobs.c.id > after_id, *where)
            .order_by(jobs.c.id)
            .limit(page_size)
        )
        .mappings()
        .all()
    )
    if not rows:
        return []
    total = 0
    for n, r in enumerate(rows):  # long recordings: fewer jobs per page (at least one)
        total += r["turn_count"] or 0
        if total > max_turns and n > 0:
            rows = rows[:n]
            break
    ids = [r["id"] for r in rows]
    texts = {
        job_id: (text, number, attempt_id)
        for job_id, text, number, attempt_id in conn.execute(
            sa.select(
                transcripts.c.job_id,
                transcripts.c.text,
                transcripts.c.attempt_number,
                transcripts.c.attempt_id,
            ).where(transcripts.c.job_id.in_(ids))
        )
    }
    latest = dict(
        conn.execute(
            sa.select(attempts.c.job_id, sa.func.max(attempts.c.id))
            .where(attempts.c.job_id.in_(ids))
            .group_by(attempts.c.job_id)
        ).all()
    )
    wanted = {job_id: texts[job_id][2] if job_id in texts else latest.get(job_id) for job_id in ids}
    attempt_ids = [a for a in wanted.values() if a is not None]
    facts = {
        attempt_id: (request_id, encoding)
        for attempt_id, request_id, encoding in conn.execute(
            sa.select(attempts.c.id, attempts.c.request_id, attempts.c.encoding).where(
                attempts.c.id.in_(attempt_ids)
            )
        )
    }
    by_job: dict[int, list[TurnView]] = {job_id: [] for job_id in ids}
    turn_rows = conn.execute(
        sa.select(turns.c.job_id, *_TURN_COLUMNS)
        .where(turns.c.job_id.in_(ids))
        .order_by(turns.c.job_id, turns.c.channel, turns.c.turn_index)
    )
    for t in turn_rows:  # positional: a million turns make per-row dict building show
        by_job[t[0]].append(TurnView._make(t[1:]))
    page: list[ExportJob] = []
    for r in rows:
        job_id = r["id"]
        text = texts.get(job_id)
        attempt_id = wanted[job_id]
        request_id, encoding = facts.get(attempt_id, (None, None)) if attempt_id else (None, None)
        page.append(
            ExportJob(
                job=job_view(r),
                settings=dict(r["settings"] or {}),
                transcript=None if text is None else text[0],
                transcript_attempt=None if text is None else text[1],
                request_id=request_id,
                encoding=encoding,
                turns=tuple(by_job[job_id]),
            )
        )
    return page


def iter_export(
    read: Callable[[], AbstractContextManager[Connection]],
    *,
    states: Iterable[str] | None = None,
    label: str | None = None,
    page_size: int = 200,
    max_turns: int = 20_000,
) -> Iterator[ExportJob]:
    """Every matching job in id order with transcript and turns, ``page_size`` jobs at a time
    but no more than ``max_turns`` turns (unless one job alone has more), so memory stays
    bounded however long the recordings are.

    ``read`` opens a short read transaction (``Store`` passes its own); one is used per page.
    """
    where = job_filters(states, label)
    after_id = 0
    while True:
        with read() as conn:
            page = _export_page(conn, after_id, where, page_size, max_turns)
        if not page:
            return
        after_id = page[-1].job.id
        yield from page
        del page  # before the next page is read: never two pages in memory
