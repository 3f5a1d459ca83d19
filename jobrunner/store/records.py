"""Plain records that cross the store boundary. No SQL here.

The runner builds :class:`AttemptRecord` and :class:`TurnRow` without importing SQLAlchemy; the
worker receives :class:`ClaimedJob` from ``claim``. Times are timezone-aware UTC datetimes;
``*_audio_s`` values are seconds of audio sent when an event arrived (the service sends no
timestamps) and ``*_wall_s`` values are monotonic offsets from the session start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INVALID = "invalid"
    CANCELLED = "cancelled"


STATES: tuple[JobState, ...] = tuple(JobState)


class AttemptOutcome(StrEnum):
    """What became of one attempt; chosen by the store verb that records it."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"  # failed, the job went back to the queue
    FAILED = "failed"  # failed, the job is failed for good
    INVALID = "invalid"  # the audio cannot be streamed
    LEASE_EXPIRED = "lease_expired"  # the worker vanished; recorded by the reaper


def utcnow() -> datetime:
    """The default clock of the store."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewJob:
    """One row for ``enqueue_many``. ``reason`` set means the job is born ``invalid``."""

    path: str
    idempotency_key: str
    fingerprint: str
    settings: Mapping[str, Any]
    max_attempts: int
    sha256: str | None = None
    size_bytes: int | None = None
    #: ``st_mtime_ns`` when it was probed: with the size, tells a run the file changed since
    mtime_ns: int | None = None
    format: str | None = None
    subtype: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    frames: int | None = None
    duration_s: float | None = None
    label: str | None = None
    priority: int = 0
    reason: str | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class Inserted:
    """Result of ``enqueue_many`` for one :class:`NewJob`, in input order."""

    idempotency_key: str
    job_id: int
    new: bool  # False: a job with this key already existed (or came earlier in the batch)


@dataclass(frozen=True)
class ClaimedJob:
    """Everything the worker needs to stream a job, as of the claim."""

    id: int
    path: str
    sha256: str | None
    format: str | None
    subtype: str | None
    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    label: str | None
    settings: Mapping[str, Any]
    #: this attempt's number (1-based, counts every attempt ever made on the job); it fences
    #: ``complete``/``retry_later``/``fail``: pass it back as ``AttemptRecord.number``
    attempt: int
    #: attempts still allowed after this one in the current budget
    attempts_left: int
    lease_owner: str
    lease_expires_at: datetime
    #: this attempt's number within the current budget (1 = first since enqueue or requeue)
    budget_attempt: int = 1
    #: the file's size and ``st_mtime_ns`` at enqueue (``None``: not recorded, not compared)
    size_bytes: int | None = None
    mtime_ns: int | None = None
    #: a piece (``jobrunner.pieces``): the job it was split from, its place among the pieces,
    #: its frames ``[start_frame, end_frame)`` (``None``: the whole file) and its source
    #: channel (``None``: the downmix policy of the settings)
    parent_id: int | None = None
    piece_index: int | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    source_channel: int | None = None

    @property
    def whole(self) -> bool:
        """Streams the whole file the usual way (a top-level job, or a legacy single piece)."""
        return self.start_frame is None and self.end_frame is None and self.source_channel is None


@dataclass(frozen=True)
class PieceRange:
    """One piece of a split: frames ``[start_frame, end_frame)`` of ``source_channel``
    (``None``: the downmix policy of the settings)."""

    start_frame: int
    end_frame: int
    source_channel: int | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """The facts of one attempt, written with the verb that ends it.

    The outcome is not a field: the verb decides it (``complete`` -> succeeded,
    ``retry_later`` -> retry, ``fail`` -> failed/invalid, the reaper -> lease_expired).
    """

    number: int
    worker: str
    started_at: datetime
    ended_at: datetime
    channel: int = 0  # session index within the attempt; 0 when one session covers the file
    error_kind: str | None = None
    error_message: str | None = None
    http_status: int | None = None
    close_code: int | None = None
    request_id: str | None = None
    audio_seconds_sent: float | None = 0.0  # None: unknown (a vanished worker's attempt)
    encoding: str | None = None
    sample_rate: int | None = None
    channel_policy: str | None = None  # e.g. "mono" (downmix) or "first"
    send_rate_mean: float | None = None  # audio seconds per wall second
    send_max_lead_s: float | None = None  # how far sending ran ahead of the realtime schedule
    send_p99_lateness_s: float | None = None
    connect_s: float | None = None
    drain_s: float | None = None
    endpoint: str | None = None  # "auto", "manual" or "batch"; None: not known


@dataclass(frozen=True)
class TurnRow:
    """One finished turn of a successful attempt."""

    index: int
    transcript: str
    channel: int = 0
    start_audio_s: float | None = None
    first_update_audio_s: float | None = None
    eager_end_audio_s: float | None = None
    end_audio_s: float | None = None
    updates: int = 0
    eager_ends: int = 0
    resumes: int = 0
    start_wall_s: float | None = None
    end_wall_s: float | None = None
    #: ``"turn.end"``, or ``"close"``: the server's normal close ended the turn, whose text is
    #: its last cumulative update
    ended_by: str = "turn.end"
    # aligned with the speech map (jobrunner.timing.align); None: no map, or it cannot say
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    start_latency_s: float | None = None
    end_latency_s: float | None = None
    eager_latency_s: float | None = None
    #: ``[{"word", "start", "end"}, ...]`` in file seconds (Manual, Batch); None: none given
    words: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Selector:
    """Which jobs ``requeue``/``cancel`` touch.

    ``ids`` and ``paths`` name jobs (a job named by either matches; neither given = all jobs);
    ``label``, ``states`` and ``coverage`` (the verdict of the coverage check, e.g.
    ``"uncovered"``) narrow further. ``states=None`` means any state: the verb still only moves
    jobs from the states it may move.
    """

    ids: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()
    label: str | None = None
    states: tuple[JobState, ...] | None = None
    coverage: str | None = None


@dataclass(frozen=True)
class LeaseHolder:
    """An owner holding leases on running jobs, as seen by a worker that may wait for them:
    its first and last lease expire in ``expires_in_s`` and ``last_expires_in_s`` (negative:
    expired), on the clock that judges leases."""

    owner: str
    jobs: int
    expires_in_s: float
    last_expires_in_s: float


@dataclass(frozen=True)
class ReapResult:
    requeued: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()


@dataclass(frozen=True)
class StoredMap:
    """A file's speech map as stored: one per content, channel mode and detector."""

    sha256: str
    mode: str
    detector: str
    duration_s: float
    speech_s: float
    map: str  # SpeechMap.to_json()


@dataclass(frozen=True)
class MapTarget:
    """A job whose content may need a map, with what mapping it and checking it needs."""

    job_id: int
    path: str
    sha256: str
    state: str
    channels: int
    #: the job's multichannel policy as enqueued (``settings["downmix"]``)
    downmix: str | None
    duration_s: float | None
    size_bytes: int | None
    mtime_ns: int | None
    #: the job's channel mode (``settings["channels"]``; ``None``: ``downmix``)
    channel_mode: str | None = None


@dataclass(frozen=True)
class StoredTurn:
    """What alignment needs of one stored turn."""

    channel: int
    index: int
    transcript: str
    start_audio_s: float | None
    end_audio_s: float | None
    eager_end_audio_s: float | None


@dataclass(frozen=True)
class TurnsToAlign:
    """A job's current transcript: its turns and the attempt that produced them."""

    target: MapTarget
    attempt_id: int
    turns: tuple[StoredTurn, ...]


@dataclass(frozen=True)
class TurnSpeech:
    """One turn's aligned times and latencies (``None``: the map cannot say)."""

    channel: int
    index: int
    speech_start_s: float | None
    speech_end_s: float | None
    start_latency_s: float | None
    end_latency_s: float | None
    eager_latency_s: float | None
