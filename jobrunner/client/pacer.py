"""Drift-free realtime schedule for one stream, with the clock injected (no sleeping here).

A chunk whose audio starts at offset ``o`` seconds is due at ``t0 + o / pace``. Deadlines are
computed from the offset, never by adding intervals, so a late send (a GC pause, a slow disk, a
busy event loop) is never carried into the next deadline: after a stall the overdue chunks go
out at once and the stream is back on the original schedule. The last, partial chunk is paced
like any other (its offset decides).

``{"type": "close"}`` is due at :meth:`Pacer.close_due`, when the *end* of the last chunk's audio
is due (``t0 + total / pace``): at pace 1 the server has then received every second of audio no
faster than it was spoken, which is what the service expects, and the stream's wall time equals
its audio length.

Usage by the send loop (the client owns the sleeping)::

    pacer = Pacer(pace)
    pacer.start(clock())
    for offset, length, chunk in chunks:
        await sleep_until(pacer.due(offset))
        await ws.send(chunk)
        pacer.sent(offset, length, clock())
    await sleep_until(pacer.close_due())
    await ws.send(CLOSE_MESSAGE)
    pacer.closed(clock())
    stats = pacer.stats()

Lateness per chunk is kept as float32 (4 bytes a chunk: a 3-hour file at 100 ms is 108,000
chunks, 432 kB), so percentiles are exact rather than estimated.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from jobrunner.errors import ConfigError

Clock = Callable[[], float]
"""Monotonic seconds (``time.monotonic`` unless a test injects another)."""


@dataclass(frozen=True)
class PacingStats:
    """How one stream was paced. ``mean_rate``: audio seconds per wall second from start to close
    (to the last send if close was not recorded); ``max_lead_s``: the most audio ever sent ahead of
    realtime (audio sent minus wall seconds elapsed, measured right after each send); lateness:
    how long after its deadline each chunk was handed over (never negative)."""

    pace: float
    chunks: int
    audio_s: float
    wall_s: float
    mean_rate: float
    max_lead_s: float
    p50_lateness_s: float
    p99_lateness_s: float
    max_lateness_s: float


class Pacer:
    """The schedule and the record of one stream. Times are monotonic-clock seconds."""

    def __init__(self, pace: float = 1.0) -> None:
        if not (math.isfinite(pace) and pace > 0):
            raise ConfigError(f"pace must be a positive number, got {pace!r}")
        self.pace = pace
        self._t0: float | None = None
        self._audio_s = 0.0
        self._end_s = 0.0
        self._last_at: float | None = None
        self._closed_at: float | None = None
        self._max_lead = 0.0
        self._lateness = array("f")

    @property
    def t0(self) -> float:
        if self._t0 is None:
            raise RuntimeError("Pacer.start() was not called")
        return self._t0

    def start(self, now: float) -> None:
        """Fix the schedule's origin: the first chunk (offset 0) is due at ``now``."""
        self._t0 = now

    def due(self, audio_offset_s: float) -> float:
        """Absolute deadline of the chunk whose audio starts at ``audio_offset_s``."""
        return self.t0 + audio_offset_s / self.pace

    def close_due(self) -> float:
        """Deadline for ``close``: when the end of the audio sent so far is due."""
        return self.due(self._end_s)

    def sent(self, audio_offset_s: float, audio_len_s: float, now: float) -> None:
        """Record that the chunk ``[offset, offset + len)`` was handed to the socket at ``now``."""
        self._lateness.append(max(0.0, now - self.due(audio_offset_s)))
        self._audio_s += audio_len_s
        self._end_s = max(self._end_s, audio_offset_s + audio_len_s)
        self._last_at = now
        self._max_lead = max(self._max_lead, self._audio_s - (now - self.t0))

    def closed(self, now: float) -> None:
        """Record when ``close`` was sent: the end of the stream's wall time."""
        self._closed_at = now

    def stats(self) -> PacingStats:
        end = self._closed_at if self._closed_at is not None else self._last_at
        wall = max(0.0, end - self.t0) if end is not None and self._t0 is not None else 0.0
        ordered = sorted(self._lateness)
        return PacingStats(
            pace=self.pace,
            chunks=len(ordered),
            audio_s=self._audio_s,
            wall_s=wall,
            mean_rate=self._audio_s / wall if wall > 0 else 0.0,
            max_lead_s=self._max_lead,
            p50_lateness_s=_percentile(ordered, 0.50),
            p99_lateness_s=_percentile(ordered, 0.99),
            max_lateness_s=ordered[-1] if ordered else 0.0,
        )


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]
