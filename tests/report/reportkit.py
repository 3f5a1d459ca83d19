"""Helpers of the report tests and of ``bench/report_speed.py``: a synthetic run written through
the store's own verbs, with speech maps and turn speech times stored as the speech map's
analysis will store them (its schema is on main, its writers not yet).

Only jobrunner is imported here (bench imports this module as ``tests.report.reportkit``).

:func:`fill` makes a run that looks like a real one at any size: speech segments per file, turns
that start and end a detection delay after them (on the 100 ms audio clock), eager ends and
some resumes, a few retries after 429s and lost connections, failed and invalid files, and
sessions scheduled over 8 lanes in realtime, so the run-health charts have a shape.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.audio.vad import Segment
from jobrunner.store import AttemptRecord, NewJob, Store, TurnRow, make_owner
from jobrunner.store.schema import speech_maps

PHRASES = (
    "hi I would like to book a table for four people tonight",
    "around seven thirty if that works",
    "my internet has been down since this morning",
    "I already tried restarting the router",
    "can you send a technician tomorrow",
    "tell me about a project you are proud of",
    "we rebuilt the billing system in three months",
    "what is the weather like in Paris this weekend",
)
#: the reference's wording where the synthetic recognizer misheard
MISHEARD = {"table": "cable", "tonight": "to night", "router": "rooter", "Paris": "parents"}
BASE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
LANES = 8
CHUNK_S = 0.1


def store_map(store: Store, sha256: str, speech: SpeechMap) -> None:
    """A file's map in ``speech_maps``, as the speech map's analysis will keep it (no store
    verb writes maps yet)."""
    row = {
        "sha256": sha256,
        "mode": speech.mode,
        "detector": speech.detector,
        "duration_s": speech.duration_s,
        "speech_s": sum(speech.speech_s(c) for c in range(len(speech.channels))),
        "map": speech.to_json(),
        "created_at": datetime.now(UTC),
    }
    with store.engine.begin() as conn:
        conn.execute(sa.insert(speech_maps), row)


def store_turn_speech(store: Store, job_id: int, values: list[dict[str, Any]]) -> None:
    """Per turn index (channel 0): the speech columns as the speech map's analysis will store
    them."""
    with store.engine.begin() as conn:
        for index, fields in enumerate(values):
            sets = ", ".join(f"{k} = :{k}" for k in fields)
            conn.execute(
                sa.text(f"UPDATE turns SET {sets} WHERE job_id = :job AND turn_index = :index"),
                {**fields, "job": job_id, "index": index},
            )


@dataclass
class Synthetic:
    """What :func:`fill` made: reference turns per path, and the speech maps by sha256."""

    references: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, SpeechMap] = field(default_factory=dict)
    turns: int = 0


def _chunk(t: float) -> float:
    return round(math.ceil(t / CHUNK_S - 1e-9) * CHUNK_S, 1)


def _plan(
    rng: random.Random, turns: tuple[int, int]
) -> tuple[list[list[Segment]], list[TurnRow], float]:
    """Speech segments per turn, the turns as the service would time them, the duration."""
    t = rng.uniform(0.3, 1.5)
    speech: list[list[Segment]] = []
    rows: list[TurnRow] = []
    for k in range(rng.randint(*turns)):
        segments = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            length = rng.uniform(0.6, 2.5)
            segments.append(Segment(round(t, 3), round(t + length, 3)))
            t += length + rng.uniform(0.15, 0.4)
        end_speech = segments[-1].end_s
        lag = rng.uniform(0.6, 1.8)
        eager = rng.random() < 0.5
        resumed = eager and rng.random() < 0.2
        rows.append(
            TurnRow(
                index=k,
                transcript=PHRASES[rng.randrange(len(PHRASES))] + ". ",
                start_audio_s=_chunk(segments[0].start_s + rng.uniform(0.15, 0.7)),
                first_update_audio_s=_chunk(segments[0].start_s + 0.8),
                eager_end_audio_s=_chunk(end_speech + 0.4 * lag) if eager else None,
                end_audio_s=_chunk(end_speech + lag),
                updates=3,
                eager_ends=(2 if resumed else 1) if eager else 0,
                resumes=1 if resumed else 0,
            )
        )
        speech.append(segments)
        t = end_speech + lag + rng.uniform(0.2, 1.2)
    return speech, rows, round(t + rng.uniform(0.3, 1.5), 3)


def _reference(turns: list[TurnRow]) -> list[str]:
    return [" ".join(MISHEARD.get(w, w) for w in t.transcript.strip(". ").split()) for t in turns]


def fill(
    store: Store,
    jobs: int,
    *,
    seed: int = 15,
    with_maps: bool = True,
    turns: tuple[int, int] = (3, 12),
) -> Synthetic:
    """``jobs`` files through enqueue, claim and complete/retry/fail; see the module docstring.
    ``with_maps``: also store each file's speech map; ``turns``: the range of turns per file
    (about 4.5 s each)."""
    rng = random.Random(seed)
    plans = {}
    new = []
    for i in range(jobs):
        speech, rows, duration = _plan(random.Random(seed * 100_003 + i), turns)
        path = f"/recordings/{i // 100:03d}/call-{i:05d}.wav"
        invalid = rng.random() < 0.02
        new.append(
            NewJob(
                path=path,
                idempotency_key=f"{i:064x}:fp",
                fingerprint="fp",
                settings={"model": "ink-2", "encoding": "auto"},
                max_attempts=3,
                sha256=None if invalid else f"{i:064x}",
                sample_rate=16000,
                channels=1,
                frames=int(duration * 16000),
                duration_s=duration,
                label="synthetic",
                reason="not a regular file: text/plain" if invalid else None,
                error_kind="invalid_audio" if invalid else None,
            )
        )
        plans[path] = (speech, rows, duration)
    store.enqueue_many(new)
    made = Synthetic()
    owner, lanes = make_owner(), [BASE] * LANES
    while claimed := store.claim(50, owner, lease_ttl=600):
        for job in claimed:
            speech, rows, duration = plans[job.path]
            lane = min(range(LANES), key=lanes.__getitem__)
            start = lanes[lane] + timedelta(seconds=rng.uniform(0.05, 0.3))
            roll = rng.random()
            if job.attempt == 1 and roll < 0.06:
                limited = roll < 0.03
                end = start + timedelta(seconds=0.2 if limited else rng.uniform(2, duration))
                record = AttemptRecord(
                    job.attempt, owner, start, end,
                    error_kind="rate_limited" if limited else "connection_lost",
                    error_message="HTTP 429" if limited else "connection closed: 1006",
                    http_status=429 if limited else None, close_code=None if limited else 1006,
                )  # fmt: skip
                lanes[lane] = end
                if roll < 0.015:
                    store.fail(job.id, owner, record, record.error_message or "", "rate_limited")
                else:
                    store.retry_later(job.id, owner, record, run_after=datetime.now(UTC))
                continue
            end = start + timedelta(seconds=duration + rng.uniform(0.3, 0.9))
            lanes[lane] = end
            record = AttemptRecord(
                job.attempt, owner, start, end, request_id=f"req-{job.id}", encoding="pcm_s16le",
                audio_seconds_sent=duration, send_rate_mean=rng.gauss(0.999, 0.002),
                send_p99_lateness_s=abs(rng.gauss(0.012, 0.006)), connect_s=0.15, drain_s=0.4,
            )  # fmt: skip
            kept = rows[:-1] if rng.random() < 0.02 and len(rows) > 1 else rows  # uncovered
            store.complete(job.id, owner, record, kept, "".join(t.transcript for t in kept))
            made.references[job.path] = _reference(rows)
            made.turns += len(kept)
            if with_maps and job.sha256 is not None:
                flat = tuple(s for turn in speech for s in turn)
                made.maps[job.sha256] = SpeechMap((flat,), duration, 16000, "synthetic/1")
                store_map(store, job.sha256, made.maps[job.sha256])
    return made


def write_tsv(path: Any, references: dict[str, list[str]]) -> None:
    lines = [f"{p}\t{' | '.join(turns)}" for p, turns in references.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
