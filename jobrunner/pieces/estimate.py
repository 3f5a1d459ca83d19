"""What a run will take before anything is spent: pieces, makespan and cost, as pure functions.

Input is the work (:class:`Lane`: one channel, or the downmix, of one file, with its speech);
output an :class:`Estimate`. How many pieces a lane gets follows the run's rule: a lane longer
than ``split_min_s`` is split when the sessions would otherwise idle, into about as many
pieces as it takes to end with the rest of the work (the ideal makespan, total audio over
``-c N``), never more than N, and only at silences (:func:`~jobrunner.pieces.plan.plan_pieces`).

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
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from jobrunner.pieces.plan import plan_pieces

#: per session: connect and handshake, and the drain after the last chunk (seconds)
SESSION_OVERHEAD_S: Final = 1.0
#: once per run: interpreter start, opening the queue, the first claim (seconds)
STARTUP_S: Final = 1.0
#: the default shortest lane that is split (``--split-min``), as ``run`` has it
SPLIT_MIN_S: Final = 600.0


@dataclass(frozen=True)
class Lane:
    """One session's worth of a file before splitting: a channel, or the downmix."""

    path: str
    channel: int | None  # None: the downmix (or the only channel)
    frames: int
    sample_rate: int
    speech: tuple[tuple[float, float], ...] | None  # None: no speech map (cannot be split)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def speech_s(self) -> float | None:
        return None if self.speech is None else sum(b - a for a, b in self.speech)


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
    sent_s: float  # audio sent: every lane in full
    speech_s: float  # mapped speech over the lanes that have a map
    unmapped: int  # lanes without a speech map (counted whole, never split)
    sessions: int  # lanes: one per file, or per channel when channels are split
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


def piece_counts(lanes: Sequence[Lane], concurrency: int, split_min_s: float) -> list[int]:
    """How many pieces each lane is asked for: 1 unless it is over ``split_min_s``, mapped,
    and longer than the ideal makespan (total audio / ``concurrency``)."""
    ideal = sum(lane.duration_s for lane in lanes) / concurrency
    counts = []
    for lane in lanes:
        if lane.speech is None or lane.duration_s <= split_min_s or ideal <= 0:
            counts.append(1)
        else:
            counts.append(max(1, min(concurrency, math.ceil(lane.duration_s / ideal - 1e-9))))
    return counts


def piece_durations(lanes: Sequence[Lane], concurrency: int, split_min_s: float) -> list[float]:
    """The audio seconds of every piece the lanes are cut into (see :func:`piece_counts`)."""
    out: list[float] = []
    for lane, count in zip(lanes, piece_counts(lanes, concurrency, split_min_s), strict=True):
        if count == 1 or lane.speech is None:
            out.append(lane.duration_s)
            continue
        ranges = plan_pieces(lane.speech, lane.frames, lane.sample_rate, count)
        out += [r.frames / lane.sample_rate for r in ranges]
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


def estimate(lanes: Sequence[Lane], options: EstimateOptions) -> Estimate:
    """The :class:`Estimate` of running ``lanes`` with ``options``."""
    whole = [lane.duration_s for lane in lanes]
    split = piece_durations(lanes, options.concurrency, options.split_min_s)
    timing = {
        "pace": options.pace,
        "session_overhead_s": options.session_overhead_s,
        "startup_s": options.startup_s,
    }
    durations: dict[str, float] = {}
    for lane in lanes:
        durations.setdefault(lane.path, lane.duration_s)
    return Estimate(
        files=len(durations),
        audio_s=sum(durations.values()),
        sent_s=sum(whole),
        speech_s=sum(lane.speech_s or 0.0 for lane in lanes),
        unmapped=sum(lane.speech is None for lane in lanes),
        sessions=len(lanes),
        pieces=len(split) if options.split else len(lanes),
        concurrency=options.concurrency,
        makespan_unsplit_s=makespan(whole, options.concurrency, **timing),
        makespan_split_s=makespan(split, options.concurrency, **timing),
        price_per_audio_hour=options.price_per_audio_hour,
        split=options.split,
    )
