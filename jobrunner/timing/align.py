"""Align finished turns with the mapped speech: true turn times and turn-detection latency.

The service sends no timestamps, so a turn's event times (``start_s``, ``end_s``,
``eager_end_s``: seconds of audio sent when the event arrived) can only be late. The speech map
says where the speech really is. Each mapped segment is given to the turn whose ``turn.end``
came first after the segment ended: the service cannot end a turn before its speech has ended,
so a turn owns the speech that ended in ``(previous turn's end_s, this turn's end_s]``. A
segment that began before the previous turn ended still belongs whole to the turn it ended in
(a speaker who answered during the previous turn's detection delay). A turn's true start is its
first segment's onset, its true end its last segment's offset; the latencies are the event
times minus those.

The hard cases, each decided here and tested:

* **No mapped speech** in a turn (noise, a cough the service took for a word): speech times and
  latencies are ``None``.
* **Two turns inside one segment**: the service ended a turn in a pause shorter than the
  detector's minimum silence, so the boundary is inside what the map calls one segment. The
  earlier turn gets the segment's onset and no end (``speech_end_s`` ``None``: the map cannot
  place it); the later turn gets the segment's offset and no start.
* **Speech after the last turn**: owned by no turn; :mod:`jobrunner.timing.coverage` counts it.
* **An eager end followed by a resume**: ``eager_end_s`` is the last eager end; if it came
  clearly before the turn's speech ended (more than one chunk), it was a false alarm for that
  end and ``eager_latency_s`` is ``None`` (the resume is counted in ``resumes``).
* **Flush-time events**: every event after our ``close`` carries the file's duration, so turns
  ending then share one end time that says nothing about when they were detected. Their speech
  is split between them at the largest pauses, in order (turn boundaries fall in pauses), and
  their ``end_latency_s``/``eager_latency_s`` are ``None``: the turn ended because the audio
  did, not because the detector decided.
* **Late events**: a service that lags (a busy recognizer) can end turn *k* after turn *k+1*'s
  speech has ended too (a short reply after a short pause), so turn *k* is given both and turn
  *k+1* nothing. A turn with text that owns no speech right after turns that own several
  segments is such a turn (a cough or noise comes back with no text): the run of turns shares
  that speech at its largest pauses, in order, as at the flush. A turn without text keeps
  the first reading (no speech).

``end_latency_s`` is exactly ``end_s - speech_end_s`` (both on the audio clock), whichever way
it is computed: from the exported fields, or here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jobrunner.audio.vad import Segment

#: end times closer than this are the same time (float noise on the audio clock)
_SAME_S: Final = 1e-6
#: an eager end this far before the mapped end was a false alarm, not a late detection: more
#: than the audio clock's resolution (one 100 ms chunk) plus the detector's boundary error
_EAGER_SLACK_S: Final = 0.1


@dataclass(frozen=True)
class TurnTimes:
    """What alignment needs of one finished turn (event positions on the audio clock)."""

    start_s: float | None
    end_s: float | None
    eager_end_s: float | None = None
    #: the turn's transcript is not empty (the service heard words, so it had speech)
    text: bool = True


@dataclass(frozen=True)
class TurnAlignment:
    """One turn's true times and latencies; ``None`` where the map cannot say."""

    speech_start_s: float | None = None
    speech_end_s: float | None = None
    start_latency_s: float | None = None
    end_latency_s: float | None = None
    eager_latency_s: float | None = None


def _diff(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round(later - earlier, 6)


def _split_at_pauses(segments: Sequence[Segment], parts: int) -> list[list[Segment]]:
    """``segments`` (in order) cut into at most ``parts`` runs at the largest pauses."""
    if parts <= 1 or len(segments) <= 1:
        return [list(segments)]
    gaps = sorted(
        range(1, len(segments)),
        key=lambda i: segments[i].start_s - segments[i - 1].end_s,
        reverse=True,
    )
    cuts = sorted(gaps[: parts - 1])
    runs, begin = [], 0
    for cut in cuts:
        runs.append(list(segments[begin:cut]))
        begin = cut
    runs.append(list(segments[begin:]))
    return runs


def align_turns(
    turns: Sequence[TurnTimes], segments: Sequence[Segment], duration_s: float
) -> tuple[list[TurnAlignment], list[Segment]]:
    """Per-turn true times for ``turns`` (in order, one channel) against that channel's
    ``segments``; also returns the speech no turn owns (for the coverage check)."""
    ordered = sorted(segments, key=lambda s: (s.end_s, s.start_s))
    owned: list[list[Segment]] = [[] for _ in turns]
    open_end: list[bool] = [False] * len(turns)  # the turn's end falls inside a segment
    open_start: list[bool] = [False] * len(turns)
    unowned: list[Segment] = []
    flush_at = duration_s - _SAME_S
    i = 0
    for k, turn in enumerate(turns):
        if turn.end_s is None:
            continue
        while i < len(ordered) and ordered[i].end_s <= turn.end_s + _SAME_S:
            owned[k].append(ordered[i])
            i += 1
        nxt = ordered[i] if i < len(ordered) else None
        if not owned[k] and nxt is not None and nxt.start_s < turn.end_s and k + 1 < len(turns):
            # two turns inside one segment: the boundary is in a pause the map merged
            owned[k].append(nxt)
            open_end[k] = True
            open_start[k + 1] = True
    unowned.extend(ordered[i:])
    _share_late(turns, owned, open_start, open_end)
    _share_flush(turns, owned, flush_at)
    results = []
    for k, turn in enumerate(turns):
        mine = owned[k]
        if not mine:
            results.append(TurnAlignment())
            continue
        start = None if open_start[k] else mine[0].start_s
        end = None if open_end[k] else mine[-1].end_s
        flushed = turn.end_s is not None and turn.end_s >= flush_at
        eager = None if flushed else _diff(turn.eager_end_s, end)
        results.append(
            TurnAlignment(
                speech_start_s=start,
                speech_end_s=end,
                start_latency_s=_diff(turn.start_s, start),
                end_latency_s=None if flushed else _diff(turn.end_s, end),
                eager_latency_s=eager if eager is not None and eager >= -_EAGER_SLACK_S else None,
            )
        )
    return results, unowned


def _share_late(
    turns: Sequence[TurnTimes],
    owned: list[list[Segment]],
    open_start: list[bool],
    open_end: list[bool],
) -> None:
    """A turn with text but no speech after a turn that owns several segments: their events
    came late, so the run of turns shares the speech at its largest pauses, in order."""
    k = 0
    while k < len(turns):
        donor, k = k, k + 1
        while k < len(turns) and not owned[k] and turns[k].text and not open_start[k]:
            k += 1
        run = range(donor, k)
        if len(run) < 2 or len(owned[donor]) < 2 or open_end[donor]:
            continue
        shares = _split_at_pauses(owned[donor], len(run))
        for j, share in zip(run, shares + [[]] * (len(run) - len(shares)), strict=True):
            owned[j] = share


def _share_flush(turns: Sequence[TurnTimes], owned: list[list[Segment]], flush_at: float) -> None:
    """Turns that ended at flush time share one end position: the first of them was given all
    their speech; split it between them at the largest pauses, in order."""
    tied = [k for k, t in enumerate(turns) if t.end_s is not None and t.end_s >= flush_at]
    if len(tied) < 2:
        return
    pooled = [s for k in tied for s in owned[k]]
    runs = _split_at_pauses(pooled, len(tied))
    for k, run in zip(tied, runs + [[]] * (len(tied) - len(runs)), strict=True):
        owned[k] = run


__all__ = ["TurnAlignment", "TurnTimes", "align_turns"]
