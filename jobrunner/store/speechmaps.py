"""The speech map's storage: one map per content, and which jobs need one.

A map (the JSON of :class:`jobrunner.audio.speechmap.SpeechMap`; the store never parses it) is
keyed by content sha256, channel mode and detector identity: every job with that content, in
any folder and under any settings that stream the same channels, shares it, and a new
detector version computes a new one instead of trusting an old one. Writing a map is
``INSERT ... ON CONFLICT DO NOTHING``: two workers that map the same content at once computed
the same map. What alignment with a map wrote is :mod:`~jobrunner.store.alignment`'s.

The speech map's write statements (alignment's too) are named once here, as
:mod:`~jobrunner.store.statements` names the queue's, and built once per kind of store.
Functions run inside a transaction the caller opened.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from jobrunner.store.engine import insert_ignoring_conflicts
from jobrunner.store.records import JobState, MapTarget, Selector, StoredMap
from jobrunner.store.rows import chunks, fit_optional, fit_to
from jobrunner.store.schema import jobs, speech_maps, transcripts, turns
from jobrunner.store.timing import BOUND, SERVER, Timing, clock_params

#: per-turn columns that alignment fills in
SPEECH_COLUMNS = (
    "speech_start_s",
    "speech_end_s",
    "start_latency_s",
    "end_latency_s",
    "eager_latency_s",
)
#: jobs that have content to map: every state but ``invalid`` (the file cannot be read)
MAPPABLE = tuple(s for s in JobState if s is not JobState.INVALID)


# -- statements ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpeechStatements:
    insert_map: sa.Insert
    set_turn: sa.Update
    set_coverage: sa.Update


@functools.cache
def speech_statements(dialect: str, server_clock: bool = False) -> SpeechStatements:
    """The speech map's write statements for a store on ``dialect`` (its clock as in
    :func:`jobrunner.store.statements.statements`)."""
    t: Timing = SERVER if server_clock else BOUND
    # two workers may map the same content at once: the second insert is a no-op
    insert_map = insert_ignoring_conflicts(dialect, speech_maps, "sha256", "mode", "detector")
    # fenced by the attempt whose turns were aligned: a newer transcript's turns stay as they are
    set_turn = (
        sa.update(turns)
        .where(
            turns.c.job_id == sa.bindparam("job"),
            turns.c.attempt_id == sa.bindparam("attempt"),
            turns.c.channel == sa.bindparam("lane"),
            turns.c.turn_index == sa.bindparam("position"),
        )
        .values({name: sa.bindparam(f"s_{name}") for name in SPEECH_COLUMNS})
    )
    # RETURNING id is empty when a newer transcript replaced the aligned one
    current = sa.exists().where(
        transcripts.c.job_id == sa.bindparam("job"),
        transcripts.c.attempt_id == sa.bindparam("attempt"),
    )
    set_coverage = (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("job"), current)
        .values(coverage=sa.bindparam("verdict"), uncovered_s=sa.bindparam("missed_s"))
        .returning(jobs.c.id)
    )
    return SpeechStatements(insert_map.values(created_at=t.now), set_turn, set_coverage)


# -- maps ----------------------------------------------------------------------------------


def save_map(conn: Connection, sql: SpeechStatements, stored: StoredMap, now: datetime) -> None:
    values = {
        "sha256": stored.sha256,
        "mode": stored.mode,
        "detector": fit_to(speech_maps.c.detector, stored.detector),
        "duration_s": stored.duration_s,
        "speech_s": stored.speech_s,
        "map": stored.map,
    }
    conn.execute(sql.insert_map, values | clock_params(now))


def find_map(conn: Connection, sha256: str, mode: str, detector: str) -> StoredMap | None:
    row = (
        conn.execute(
            sa.select(speech_maps).where(
                speech_maps.c.sha256 == sha256,
                speech_maps.c.mode == mode,
                speech_maps.c.detector == fit_to(speech_maps.c.detector, detector),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return StoredMap(
        row["sha256"], row["mode"], row["detector"], row["duration_s"], row["speech_s"], row["map"]
    )


def stored_keys(conn: Connection, sha256s: Iterable[str], detector: str) -> set[tuple[str, str]]:
    """``(sha256, mode)`` of the maps stored for these contents by ``detector``."""
    found: set[tuple[str, str]] = set()
    detector = fit_to(speech_maps.c.detector, detector)
    for chunk in chunks(sorted(set(sha256s))):
        found.update(
            (sha, mode)
            for sha, mode in conn.execute(
                sa.select(speech_maps.c.sha256, speech_maps.c.mode).where(
                    speech_maps.c.sha256.in_(chunk), speech_maps.c.detector == detector
                )
            )
        )
    return found


# -- which jobs ----------------------------------------------------------------------------

#: what a :class:`MapTarget` is read from
TARGET_COLUMNS = (
    jobs.c.id,
    jobs.c.path,
    jobs.c.sha256,
    jobs.c.status,
    jobs.c.channels,
    jobs.c.settings,
    jobs.c.duration_s,
    jobs.c.size_bytes,
    jobs.c.mtime_ns,
)
#: the job has content: a hash and a channel count (its file was readable at enqueue); and it
#: is a job, not a piece of one (a split job's map and alignment are its own, in file times)
HAS_CONTENT = (
    jobs.c.sha256.is_not(None),
    jobs.c.channels.is_not(None),
    jobs.c.parent_id.is_(None),
)
_MAPPABLE_JOBS = (*HAS_CONTENT, jobs.c.status.in_([s.value for s in MAPPABLE]))


def target(r: RowMapping) -> MapTarget:
    settings: Mapping[str, Any] = r["settings"] or {}
    downmix, mode = settings.get("downmix"), settings.get("channels")
    return MapTarget(
        job_id=r["id"],
        path=r["path"],
        sha256=r["sha256"],
        state=r["status"],
        channels=r["channels"],
        downmix=downmix if isinstance(downmix, str) else None,
        duration_s=r["duration_s"],
        size_bytes=r["size_bytes"],
        mtime_ns=r["mtime_ns"],
        channel_mode=mode if isinstance(mode, str) else None,
    )


def _selected(selector: Selector) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = list(_MAPPABLE_JOBS)
    if selector.states is not None:
        where.append(jobs.c.status.in_(sorted(JobState(s).value for s in selector.states)))
    if selector.label is not None:
        where.append(jobs.c.label == fit_optional(jobs.c.label, selector.label))
    if selector.coverage is not None:
        where.append(jobs.c.coverage == selector.coverage)
    named: list[sa.ColumnElement[bool]] = []
    if selector.ids:
        named.append(jobs.c.id.in_(sorted(set(selector.ids))))
    if selector.paths:
        named.append(jobs.c.path.in_(sorted({fit_to(jobs.c.path, p) for p in selector.paths})))
    if named:
        where.append(sa.or_(*named))
    return where


def targets(
    conn: Connection, selector: Selector, *, after_id: int = 0, limit: int = 500
) -> list[MapTarget]:
    """Jobs with content that ``selector`` names (every one when it names none), id order."""
    stmt = (
        sa.select(*TARGET_COLUMNS)
        .where(jobs.c.id > after_id, *_selected(selector))
        .order_by(jobs.c.id)
        .limit(limit)
    )
    return [target(r) for r in conn.execute(stmt).mappings()]


def next_queued(conn: Connection, n: int, label: str | None = None) -> list[MapTarget]:
    """The next ``n`` queued jobs in claim order (priority, longest, then age): what a worker
    maps ahead of its claims."""
    where = [jobs.c.status == JobState.QUEUED.value, *_MAPPABLE_JOBS]
    if label is not None:
        where.append(jobs.c.label == fit_to(jobs.c.label, label))
    stmt = (
        sa.select(*TARGET_COLUMNS)
        .where(*where)
        .order_by(jobs.c.priority.desc(), jobs.c.work_s.desc().nulls_last(), jobs.c.id)
        .limit(n)
    )
    return [target(r) for r in conn.execute(stmt).mappings()]


__all__ = [
    "MAPPABLE",
    "SPEECH_COLUMNS",
    "HAS_CONTENT",
    "TARGET_COLUMNS",
    "SpeechStatements",
    "find_map",
    "next_queued",
    "save_map",
    "speech_statements",
    "stored_keys",
    "target",
    "targets",
]
