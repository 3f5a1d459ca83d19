"""The one place an attempt picks its endpoint: the session, and what its result stores.

:func:`open_session` runs the job through ``settings.endpoint``: Auto
(:func:`jobrunner.client.auto.transcribe_file`), Manual (:func:`~jobrunner.client.manual.
transcribe_manual`, with finalize points from the file's speech map) or Batch
(:func:`~jobrunner.client.batch.transcribe_batch`). :func:`completion` turns either kind of
result into what ``Store.complete`` writes: the attempt record, the turn rows (Batch: the speech
map's segments filled with the answer's words, :mod:`jobrunner.run.batch_turns`), the
transcript, and what a Batch answer reports (language, duration).

Batch requests are bounded by ``batch_concurrency`` as well as by the run's ``concurrency``
(each attempt holds one of the run's slots): the plan's limits for the two kinds differ.

Manual and Batch read the speech map of the job's content: the stored one, or one computed
here (in a worker thread) and stored for the alignment after. A file that cannot be mapped
does not fail the attempt: Manual then finalizes only at the close (one turn), Batch makes
one turn of the whole answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from jobrunner.audio.span import Span
from jobrunner.audio.vad import Segment
from jobrunner.client.auto import transcribe_file
from jobrunner.client.batch import BatchResult, transcribe_batch
from jobrunner.client.manual import finalize_points, transcribe_manual
from jobrunner.client.results import OnEvent, SessionResult
from jobrunner.client.source import Enqueued
from jobrunner.client.transport import OnRetry
from jobrunner.config import Settings
from jobrunner.errors import AudioError
from jobrunner.run.analysis import map_of
from jobrunner.run.batch_turns import batch_turns
from jobrunner.run.records import success_record, turn_rows
from jobrunner.run.splitting import map_target
from jobrunner.store import AttemptRecord, ClaimedJob, Store, TurnRow

logger = logging.getLogger(__name__)

Result = SessionResult | BatchResult


@dataclass(frozen=True)
class Completion:
    """What ``Store.complete`` writes for one successful attempt."""

    record: AttemptRecord
    rows: list[TurnRow]
    transcript: str
    language: str | None = None
    duration_s: float | None = None


def speech_segments(store: Store, job: ClaimedJob) -> tuple[Segment, ...] | None:
    """The speech the session hears (the map's first channel: the downmix, or the channel
    streamed); None when the file cannot be mapped. Blocking: call it in a thread."""
    target = map_target(job, "downmix")
    if target is None:
        return None
    try:
        speech = map_of(store, target)
    except AudioError as exc:
        logger.warning("job %d: no speech map (%s); one turn only", job.id, exc.reason)
        return None
    return speech.channels[0] if speech.channels else ()


def in_span(
    segments: Sequence[Segment], span: Span | None, sample_rate: int
) -> tuple[Segment, ...]:
    """The speech ``segments`` of a file as a piece over ``span`` hears them: those that end
    inside it, in seconds from its start (a piece begins and ends in silence, so none is cut)."""
    if span is None:
        return tuple(segments)
    start = span.start_frame / sample_rate
    end = math.inf if span.end_frame is None else span.end_frame / sample_rate
    return tuple(
        replace(s, start_s=max(0.0, s.start_s - start), end_s=s.end_s - start)
        for s in segments
        if start < s.end_s <= end
    )


#: the run's Batch requests in flight: one limiter per event loop (per run)
_BATCH_SLOTS: RunVar[anyio.CapacityLimiter] = RunVar("jobrunner_batch_slots")


def _batch_slots(size: int) -> anyio.CapacityLimiter:
    """At most ``batch_concurrency`` Batch requests at once in this run (within the run's
    ``concurrency``: each request also holds one of its slots)."""
    try:
        slots = _BATCH_SLOTS.get()
    except LookupError:
        slots = anyio.CapacityLimiter(size)
        _BATCH_SLOTS.set(slots)
    if slots.total_tokens != size:
        slots.total_tokens = size
    return slots


async def _segments(store: Store, job: ClaimedJob) -> tuple[Segment, ...] | None:
    return await anyio.to_thread.run_sync(speech_segments, store, job, abandon_on_cancel=True)


async def open_session(
    store: Store,
    job: ClaimedJob,
    settings: Settings,
    *,
    on_event: OnEvent,
    on_answer: Callable[[], None],
    clock: Callable[[], float],
    cancel_event: anyio.Event,
    on_connect_retry: OnRetry,
    enqueued: Enqueued,
    span: Span | None = None,
) -> Result:
    """Run ``job`` (or its ``span``, a piece) through its endpoint; raises as the endpoint's
    client does. Batch jobs are never split, so Batch always sends the whole file."""
    common: dict[str, Any] = {
        "cancel_event": cancel_event,
        "on_connect_retry": on_connect_retry,
        "enqueued": enqueued,
    }
    if settings.endpoint == "batch":
        async with _batch_slots(settings.batch_concurrency):
            return await transcribe_batch(job.path, settings, on_answer=on_answer, **common)
    if settings.endpoint == "manual":
        segments = in_span(await _segments(store, job) or (), span, job.sample_rate)
        points = finalize_points(segments, settings.finalize_hangover_ms)
        return await transcribe_manual(
            job.path, settings, points=points, on_event=on_event, clock=clock, span=span, **common
        )
    return await transcribe_file(
        job.path, settings, on_event=on_event, clock=clock, span=span, **common
    )


async def completion(
    store: Store,
    job: ClaimedJob,
    worker: str,
    result: Result,
    *,
    origin: float,
    now: float,
    endpoint: str,
) -> Completion:
    """The writes of a successful attempt through ``endpoint``; ``origin`` and ``now``: the
    attempt's start and the answer's arrival, on the clock the turn times were taken with."""
    if isinstance(result, SessionResult):
        record = replace(success_record(job, worker, result), endpoint=endpoint)
        return Completion(record, turn_rows(result.turns, origin), result.transcript)
    answer = result.answer
    segments = await _segments(store, job)
    at = result.plan.duration_s  # every word came after the whole file was sent
    wall = now - origin
    rows = [
        TurnRow(
            index=k,
            transcript=turn.text,
            start_audio_s=at,
            end_audio_s=at,
            start_wall_s=wall,
            end_wall_s=wall,
            ended_by="batch",
            words=[w.as_json() for w in turn.words] if turn.words else None,
        )
        for k, turn in enumerate(batch_turns(answer.text, answer.words, segments))
    ]
    record = AttemptRecord(
        number=job.attempt,
        worker=worker,
        started_at=result.started_at,
        ended_at=result.ended_at,
        http_status=result.http_status,
        request_id=result.request_id,
        audio_seconds_sent=result.plan.duration_s,
        endpoint=endpoint,
    )
    return Completion(record, rows, answer.text, answer.language, answer.duration)


__all__ = ["Completion", "Result", "completion", "open_session", "speech_segments"]
