"""One attempt's facts as store records: pure functions between the runner and the store.

The client knows nothing of SQL and the store nothing of websockets; the attempt joins them
through these functions. Nothing here does I/O.

Turn timings: ``*_audio_s`` are seconds of audio sent when the event arrived (the service sends
no timestamps); ``start_wall_s``/``end_wall_s`` are seconds on the worker's monotonic clock from
the start of the attempt (connect included) to the event's arrival.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobrunner.audio.span import Span
from jobrunner.config import RESULT_FIELDS, Settings
from jobrunner.errors import AudioError, FileChangedError, SessionError
from jobrunner.protocol.manual_session import ManualTurn
from jobrunner.protocol.turns import Turn
from jobrunner.store import AttemptRecord, ClaimedJob, TurnRow

if TYPE_CHECKING:  # the client (numpy, soundfile) loads with the first job
    from jobrunner.client.auto import SessionResult
    from jobrunner.client.source import Enqueued

#: float slack on top of one chunk when comparing audio sent with the file's duration
_EPSILON_S = 1e-6


def job_settings(base: Settings, stored: Mapping[str, Any]) -> Settings:
    """The run's settings with the job's result-changing settings, as enqueued, on top: a job
    is streamed the way its idempotency key says (model, encoding, thresholds ...)."""
    known = RESULT_FIELDS
    changes = {name: value for name, value in stored.items() if name in known}
    if "keyterms" in changes:
        changes["keyterms"] = tuple(changes["keyterms"] or ())
    return base.replace(**changes) if changes else base


def enqueued_of(job: ClaimedJob) -> Enqueued:
    """What enqueue recorded of the job's file, for the pre-stream checks."""
    from jobrunner.client.source import Enqueued

    return Enqueued(job.size_bytes, job.mtime_ns, job.frames, job.sample_rate)


def span_of(job: ClaimedJob) -> Span | None:
    """What of the file a piece streams (``None``: the whole file, the usual way)."""
    if job.whole:
        return None
    return Span(job.start_frame or 0, job.end_frame, job.source_channel)


def check_complete(
    job: ClaimedJob, result: SessionResult, chunk_ms: int
) -> AudioError | FileChangedError | None:
    """A drained session still fails the job unless the audio sent equals the file's duration
    as probed at enqueue, within one chunk. A mismatch is the file's doing, and another
    attempt would send the same: it changed since it was enqueued (the pre-stream checks
    passed, so while it streamed: :class:`FileChangedError`), or it decodes to another length
    than its header says (:class:`AudioError`)."""
    sent, expected = result.audio_s_sent, job.duration_s
    if abs(sent - expected) <= chunk_ms / 1000 + _EPSILON_S:
        return None
    plan = result.plan
    if plan.source_frames != job.frames or plan.source_rate != job.sample_rate:
        return FileChangedError(
            job.path,
            f"changed since enqueue ({job.frames} frames at {job.sample_rate} Hz then, "
            f"{plan.source_frames} at {plan.source_rate} Hz now)",
        )
    why = f"decoded to {sent:.3f} s of audio but its header says {expected:.3f} s"
    return AudioError(job.path, why)


def turn_rows(turns: Sequence[Turn], origin: float) -> list[TurnRow]:
    return [
        TurnRow(
            index=t.index,
            transcript=t.transcript,
            start_audio_s=t.start_audio_s,
            first_update_audio_s=t.first_update_audio_s,
            eager_end_audio_s=t.eager_end_audio_s,
            end_audio_s=t.end_audio_s,
            updates=t.updates,
            eager_ends=t.eager_ends,
            resumes=t.resumes,
            start_wall_s=t.start_at - origin,
            end_wall_s=None if t.end_at is None else t.end_at - origin,
            ended_by=t.ended_by or "turn.end",
            words=_words(t),
        )
        for t in turns
    ]


def _words(turn: Turn) -> list[dict[str, Any]] | None:
    """A Manual turn's words as stored; None for an Auto turn (the endpoint gives none)."""
    if isinstance(turn, ManualTurn) and turn.words is not None:
        return [word.as_json() for word in turn.words]
    return None


def success_record(job: ClaimedJob, worker: str, result: SessionResult) -> AttemptRecord:
    plan = result.plan
    return AttemptRecord(
        number=job.attempt,
        worker=worker,
        started_at=result.started_at,
        ended_at=result.ended_at,
        close_code=result.close_code,
        request_id=result.request_id,
        audio_seconds_sent=result.audio_s_sent,
        encoding=plan.encoding,
        sample_rate=plan.sample_rate,
        channel_policy=plan.downmix,
        send_rate_mean=result.pacing.mean_rate,
        send_max_lead_s=result.pacing.max_lead_s,
        send_p99_lateness_s=result.pacing.p99_lateness_s,
        connect_s=result.connect_s,
        drain_s=result.drain_s,
    )


def failure_record(
    job: ClaimedJob,
    worker: str,
    error: BaseException,
    *,
    kind: str,
    reason: str,
    started_at: datetime,
    ended_at: datetime,
    result: SessionResult | None = None,
) -> AttemptRecord:
    """The record of a failed attempt: what the session got done (``error.facts``, or the
    drained ``result`` that still failed the job), and why it failed."""
    if result is not None:
        return replace(success_record(job, worker, result), error_kind=kind, error_message=reason)
    facts = error.facts if isinstance(error, SessionError) else None
    session = error if isinstance(error, SessionError) else None
    return AttemptRecord(
        number=job.attempt,
        worker=worker,
        started_at=(facts.started_at if facts and facts.started_at else started_at),
        ended_at=(facts.ended_at if facts and facts.ended_at else ended_at),
        error_kind=kind,
        error_message=reason,
        http_status=session.http_status if session else None,
        close_code=(session.close_code if session else None)
        or (facts.close_code if facts else None),
        request_id=(session.request_id if session else None)
        or (facts.request_id if facts else None),
        audio_seconds_sent=facts.audio_s_sent if facts else 0.0,
        connect_s=facts.connect_s if facts else None,
    )


def bare_record(
    job: ClaimedJob,
    worker: str,
    *,
    kind: str,
    reason: str,
    started_at: datetime,
    ended_at: datetime,
) -> AttemptRecord:
    """A failed attempt with nothing but its reason: what is written when the full record
    could not be (one of its values was refused), so the job never stays stuck."""
    return AttemptRecord(
        number=job.attempt,
        worker=worker,
        started_at=started_at,
        ended_at=ended_at,
        error_kind=kind,
        error_message=reason,
        audio_seconds_sent=None,
    )


__all__ = [
    "bare_record",
    "check_complete",
    "enqueued_of",
    "failure_record",
    "job_settings",
    "span_of",
    "success_record",
    "turn_rows",
]
