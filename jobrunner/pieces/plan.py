"""Where to cut a long file into pieces: a pure planner over the file's speech map.

A cut is only ever placed inside a silence (a gap between two mapped speech intervals) at least
``min_silence_s`` long: long enough that the service's turn detector would have ended the turn
there anyway, so cutting loses no words and splits no turn. The cut sits ``lead_in_s`` before
the next speech onset, so the next piece starts with a little silence (the service sees a quiet
lead-in, as at the start of a file) and the previous piece keeps the rest of the silence, which
lets its last turn end on its own.

Cuts are chosen to give every piece about the same amount of *speech* (the work a session
does), not the same duration. When the file has too few long silences the plan has fewer
pieces than asked for; a file with no speech map or no usable silence stays whole.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FrameRange", "plan_pieces"]


@dataclass(frozen=True)
class FrameRange:
    """Frames ``[start_frame, end_frame)`` of a file."""

    start_frame: int
    end_frame: int

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


def plan_pieces(
    speech: Sequence[tuple[float, float]],
    frames: int,
    sample_rate: int,
    pieces: int,
    *,
    min_silence_s: float = 1.5,
    lead_in_s: float = 0.3,
) -> list[FrameRange]:
    """Cut ``[0, frames)`` into at most ``pieces`` ranges of about equal speech.

    ``speech`` is the file's speech intervals in seconds (any order, may overlap). The ranges
    cover ``[0, frames)`` exactly, in order, with no gap and no overlap; no cut falls inside a
    speech interval.
    """
    whole = [FrameRange(0, frames)]
    if pieces <= 1 or frames <= 0 or sample_rate <= 0:
        return whole
    intervals = _merged(speech, frames / sample_rate)
    cuts, spoken_before = _candidates(intervals, sample_rate, min_silence_s, lead_in_s)
    if not cuts:
        return whole
    total = sum(end - start for start, end in intervals)
    chosen: set[int] = set()
    for k in range(1, pieces):
        target = total * k / pieces
        i = bisect.bisect_left(spoken_before, target)
        near = [j for j in (i - 1, i) if 0 <= j < len(cuts)]
        chosen.add(min(near, key=lambda j: (abs(spoken_before[j] - target), j)))
    bounds = [0, *sorted(cuts[j] for j in chosen), frames]
    return [FrameRange(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def _merged(speech: Sequence[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """Speech intervals clipped to the file, sorted, overlapping ones joined."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(speech):
        start, end = max(0.0, start), min(duration_s, end)
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _candidates(
    intervals: list[tuple[float, float]],
    sample_rate: int,
    min_silence_s: float,
    lead_in_s: float,
) -> tuple[list[int], list[float]]:
    """Possible cut frames (one per long inner silence) and the speech seconds before each."""
    cuts: list[int] = []
    spoken_before: list[float] = []
    spoken = 0.0
    for (start, end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
        spoken += end - start
        if next_start - end < min_silence_s:
            continue
        gap_first = _ceil_frame(end, sample_rate)
        gap_last = int(next_start * sample_rate)  # floor: the onset frame is still silence-side
        cut = min(max(round((next_start - lead_in_s) * sample_rate), gap_first), gap_last)
        if cut <= 0 or (cuts and cut <= cuts[-1]):
            continue
        cuts.append(cut)
        spoken_before.append(spoken)
    return cuts, spoken_before


def _ceil_frame(seconds: float, sample_rate: int) -> int:
    frame = int(seconds * sample_rate)
    return frame if frame >= seconds * sample_rate else frame + 1
