"""What a run will take before anything is spent: pieces, makespan and cost, as pure functions.

Input is the work (:class:`FileWork`: a file, the sessions it needs, its speech); output an
:class:`Estimate`. Pieces follow the run's rule (:mod:`jobrunner.pieces.share`), counted as at
the start of a run, with no session busy yet: a file longer than ``split_min_s`` gets its
share of the sessions the shorter files leave idle, per channel when split, at most one slice
per ``split_min_s / 2`` of audio, cut only at silences (:func:`~jobrunner.pieces.plan.plan_pieces`
over the speech of all its channels).

The makespan is a list-scheduling simulation: pieces longest first, each to the session that
frees up first, each costing its audio at ``pace`` plus :data:`SESSION_OVERHEAD_S` (connect,
handshake, the drain after the last chunk), after :data:`STARTUP_S` of process start. Against
the local server, which answers at once, the overhead is tens of milliseconds; against the
real service a connect and a final turn end take longer, so the default errs on the long side.
The cost is the audio *sent* (every channel of a split file is sent whole) times the price per
audio hour; there is no built-in price.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from jobrunner.pieces.plan import plan_pieces
from jobrunner.pieces.share import share_of, time_slices

#: per session: connect and handshake, and the drain after the last chunk (seconds)
SESSION_OVERHEAD_S: Final = 1.0
#: once per run: interpreter start, opening the queue, the first claim (seconds)
STARTUP_S: Final = 1.0
#: the default shortest file that is split (``--split-min``), as ``run`` has it
SPLIT_MIN_S: Final = 600.0

Spans = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class FileWork:
    """One file as a run would stream it."""

    path: str
    frames: int
    sample_rate: int
    sessions: int  # 1 (the downmix, or the only channel), or one per channel when split
    speech_s: float | None  # mapped speech over its sessions (None: no speech map)
    cut_speech: Spans | None  # where any channel speaks: cuts avoid it (None: no map)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class EstimateOptions:
    concurrency: int = 4
    pace: float = 1.0
    split: bool = True
    split_min_s: float = SPLIT_MIN_S
    price_per_audio_hour: float | None = None
    session_overhead_s: float = SESSION_OVERHEAD_S
    startup_s: float = STARTUP_S


@dataclass(frozen=True)
class Estimate:
    files: int
    audio_s: float  # the files' duration
    sent_s: float  # audio sent: every session of a file in full
    speech_s: float  # mapped speech over the sessions of the files that have a map
    unmapped: int  # files without a speech map (counted whole, never split in time)
    sessions: int  # one per file, or per channel when channels are split
    pieces: int  # pieces with splitting as configured
    concurrency: int
    makespan_unsplit_s: float
    makespan_split_s: float
    price_per_audio_hour: float | None
    split: bool

    @property
    def cost(self) -> float | None:
        if self.price_per_audio_hour is None:
            return None
        return self.sent_s / 3600 * self.price_per_audio_hour

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "jobrunner.estimate/1",
            "files": self.files,
            "audio_s": round(self.audio_s, 3),
            "audio_h": round(self.audio_s / 3600, 4),
            "sent_s": round(self.sent_s, 3),
            "speech_s": round(self.speech_s, 3),
            "speech_h": round(self.speech_s / 3600, 4),
            "unmapped": self.unmapped,
            "sessions": self.sessions,
            "pieces": self.pieces,
            "split": self.split,
            "concurrency": self.concurrency,
            "makespan_unsplit_s": round(self.makespan_unsplit_s, 1),
            "makespan_split_s": round(self.makespan_split_s, 1),
            "price_per_audio_hour": self.price_per_audio_hour,
            "cost": None if self.cost is None else round(self.cost, 4),
        }


def slice_counts(files: Sequence[FileWork], concurrency: int, split_min_s: float) -> list[int]:
    """Time slices per file at the start of a run: the sessions the short files leave idle
    are shared equally among the long ones; a long file with a speech map gets its share (per
    channel when split), at most one slice per ``split_min_s / 2`` of audio, at least 1."""
    long = sum(f.duration_s > split_min_s for f in files)
    share = share_of(concurrency, 0, len(files) - 1, max(0, long - 1))
    return [
        time_slices(f.duration_s, share // f.sessions, split_min_s)
        if f.cut_speech is not None
        else 1
        for f in files
    ]


def piece_durations(files: Sequence[FileWork], concurrency: int, split_min_s: float) -> list[float]:
    """The audio seconds of every piece the files are cut into (see :func:`slice_counts`)."""
    out: list[float] = []
    for f, count in zip(files, slice_counts(files, concurrency, split_min_s), strict=True):
        if count == 1 or f.cut_speech is None:
            out += [f.duration_s] * f.sessions
            continue
        ranges = plan_pieces(f.cut_speech, f.frames, f.sample_rate, count)
        out += [r.frames / f.sample_rate for r in ranges] * f.sessions
    return out


def makespan(
    durations: Sequence[float],
    concurrency: int,
    *,
    pace: float = 1.0,
    session_overhead_s: float = SESSION_OVERHEAD_S,
    startup_s: float = STARTUP_S,
) -> float:
    """Wall seconds to run pieces of ``durations`` audio through ``concurrency`` sessions,
    longest first, each to the session free first (0 for no work)."""
    if not durations:
        return 0.0
    free = [0.0] * min(concurrency, len(durations))
    for duration in sorted(durations, reverse=True):
        start = heapq.heappop(free)
        heapq.heappush(free, start + duration / pace + session_overhead_s)
    return startup_s + max(free)


def estimate(files: Sequence[FileWork], options: EstimateOptions) -> Estimate:
    """The :class:`Estimate` of running ``files`` with ``options``."""
    whole = [f.duration_s for f in files for _ in range(f.sessions)]
    split = piece_durations(files, options.concurrency, options.split_min_s)
    timing = {
        "pace": options.pace,
        "session_overhead_s": options.session_overhead_s,
        "startup_s": options.startup_s,
    }
    return Estimate(
        files=len(files),
        audio_s=sum(f.duration_s for f in files),
        sent_s=sum(whole),
        speech_s=sum(f.speech_s or 0.0 for f in files),
        unmapped=sum(f.speech_s is None for f in files),
        sessions=len(whole),
        pieces=len(split) if options.split else len(whole),
        concurrency=options.concurrency,
        makespan_unsplit_s=makespan(whole, options.concurrency, **timing),
        makespan_split_s=makespan(split, options.concurrency, **timing),
        price_per_audio_hour=options.price_per_audio_hour,
        split=options.split,
    )
