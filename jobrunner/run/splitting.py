"""When a claimed job becomes pieces, and which: the run's half of :mod:`jobrunner.pieces`.

A top-level job is split when it is long (over ``split_min_s``, default 600 s), splitting is
on, and sessions would idle; how many pieces follows :mod:`jobrunner.pieces.share` (the rule
``estimate`` predicts with), counted with the sessions busy at claim time. Cuts come from the
file's speech map (:func:`jobrunner.pieces.plan_pieces`: long silences only); a file whose map
cannot be had is not time-sliced.

Channel modes: ``split`` makes a multichannel file one piece per channel (times the time
slices when it is also long), whatever the idle sessions: it is what the transcript is, not a
scheduling choice; ``auto`` when the channels differ; ``downmix`` keeps one session over the
downmix policy of the settings.
"""

from __future__ import annotations

import logging
from typing import Literal

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.config import Settings
from jobrunner.errors import AudioError
from jobrunner.pieces import FrameRange, plan_pieces
from jobrunner.pieces.share import share_of, splits_channels
from jobrunner.pieces.share import time_slices as slices_of
from jobrunner.run.analysis import map_of
from jobrunner.store import ClaimedJob, MapTarget, PieceRange, Store

logger = logging.getLogger(__name__)


def long_enough(job: ClaimedJob, settings: Settings) -> bool:
    return settings.split and job.duration_s > settings.split_min_s


def time_slices(duration_s: float, share: int, settings: Settings) -> int:
    """How many time slices fill ``share`` sessions (1 with splitting off)."""
    return slices_of(duration_s, share, settings.split_min_s) if settings.split else 1


ChannelMode = Literal["downmix", "split"]


def worth_a_look(job: ClaimedJob, settings: Settings) -> bool:
    """Whether :func:`plan` could split ``job`` at all (no I/O: most jobs stop here). A Batch
    job never is: it is one upload of the whole file."""
    if settings.endpoint == "batch":
        return False
    return (job.channels > 1 and settings.channels != "downmix") or long_enough(job, settings)


def channel_mode(job: ClaimedJob, settings: Settings) -> ChannelMode:
    """How ``job``'s channels are heard (blocking for ``auto``: it reads the file)."""
    return "split" if splits_channels(job.path, job.channels, settings.channels) else "downmix"


def map_target(job: ClaimedJob, mode: ChannelMode) -> MapTarget | None:
    if job.sha256 is None:
        return None
    downmix = job.settings.get("downmix")
    return MapTarget(
        job_id=job.id,
        path=job.path,
        sha256=job.sha256,
        state="running",
        channels=job.channels,
        downmix=downmix if isinstance(downmix, str) else None,
        duration_s=job.duration_s,
        size_bytes=job.size_bytes,
        mtime_ns=job.mtime_ns,
        channel_mode=mode,
    )


def speech_of(store: Store, target: MapTarget) -> SpeechMap | None:
    """The stored map of the job's content, computed and stored first when there is none;
    ``None`` when the file cannot be mapped (then it is not time-sliced)."""
    try:
        return map_of(store, target)
    except AudioError as exc:
        logger.info("job %d: no speech map (%s); not split in time", target.job_id, exc.reason)
        return None


def plan(store: Store, job: ClaimedJob, settings: Settings, share: int) -> list[PieceRange] | None:
    """The pieces of ``job``, or ``None`` when it stays whole. Blocks (the channel verdict,
    the speech map): call it in a thread."""
    mode = channel_mode(job, settings)
    slices = time_slices(
        job.duration_s, share // (job.channels if mode == "split" else 1), settings
    )
    if mode == "downmix" and slices <= 1:
        return None
    spans = [FrameRange(0, job.frames)]
    target = map_target(job, mode)
    if slices > 1 and target is not None and (speech := speech_of(store, target)) is not None:
        segments = [(s.start_s, s.end_s) for channel in speech.channels for s in channel]
        spans = plan_pieces(segments, job.frames, job.sample_rate, slices)
    channels: list[int | None] = list(range(job.channels)) if mode == "split" else [None]
    pieces = [PieceRange(s.start_frame, s.end_frame, c) for c in channels for s in spans]
    return pieces if len(pieces) > 1 else None


__all__ = [
    "channel_mode",
    "long_enough",
    "plan",
    "share_of",
    "speech_of",
    "time_slices",
    "worth_a_look",
]
