"""One job against its speech map: every turn's true times and latencies, and the verdict.

Joins :func:`jobrunner.timing.align.align_turns` (per channel) and
:func:`jobrunner.timing.coverage.judge` (per job) for the stored turns of one transcript. No
I/O: :mod:`jobrunner.run.analysis` reads the turns and the map and writes the result.

Channels: a downmixed map has one segment list that every session of the file heard; a split
map has one per channel, and session ``c`` (the turns' ``channel``) heard channel ``c``. Only
speech a session heard is judged for coverage: a file streamed with ``downmix = "first"``
leaves the other channels untranscribed by design.

The audio clock (``end_s``: audio sent when the event arrived) ends at the audio sent, which
can differ from the map's decoded duration by rounding; when the last event position is within
one chunk of the map's duration it is taken as the file's end, so the turns that ended in the
flush after ``close`` are recognised as such (:mod:`jobrunner.timing.align`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.audio.vad import Segment
from jobrunner.timing.align import TurnAlignment, TurnTimes, align_turns
from jobrunner.timing.coverage import Coverage, judge

#: the audio clock's resolution: one chunk of audio sent (the client's default 100 ms)
CLOCK_STEP_S: Final = 0.1


class FinishedTurn(Protocol):
    """What alignment reads of a stored turn (``store.StoredTurn`` is one)."""

    @property
    def channel(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def transcript(self) -> str: ...
    @property
    def start_audio_s(self) -> float | None: ...
    @property
    def end_audio_s(self) -> float | None: ...
    @property
    def eager_end_audio_s(self) -> float | None: ...


@dataclass(frozen=True)
class JobTiming:
    """Per-turn alignments in the order the turns were given, and the job's verdict."""

    turns: tuple[TurnAlignment, ...]
    coverage: Coverage


def _lane_segments(speech: SpeechMap, lane: int) -> tuple[Segment, ...]:
    if speech.mode == "downmix":
        return speech.channels[0] if speech.channels else ()
    return speech.channels[lane] if lane < len(speech.channels) else ()


def _overlap_s(segments: Sequence[Segment], lo: float, hi: float) -> float:
    return sum(max(0.0, min(s.end_s, hi) - max(s.start_s, lo)) for s in segments)


def _owned_s(
    segments: Sequence[Segment], aligned: TurnAlignment, turn: FinishedTurn, previous_end: float
) -> float:
    """Seconds of mapped speech a turn owns: between its speech start and end, or where the
    map cannot place one of them, the previous turn's end and its own end event."""
    if aligned.speech_start_s is None and aligned.speech_end_s is None:
        return 0.0
    lo = aligned.speech_start_s if aligned.speech_start_s is not None else previous_end
    hi = aligned.speech_end_s
    if hi is None:
        hi = turn.end_audio_s if turn.end_audio_s is not None else lo
    return _overlap_s(segments, lo, hi)


def time_job(speech: SpeechMap, turns: Sequence[FinishedTurn]) -> JobTiming:
    """Align ``turns`` (any order; one transcript) with ``speech`` and judge the coverage."""
    ends = [t.end_audio_s for t in turns if t.end_audio_s is not None]
    clock_end = max(ends, default=speech.duration_s)
    duration = (
        clock_end if abs(clock_end - speech.duration_s) <= CLOCK_STEP_S else speech.duration_s
    )
    by_lane: dict[int, list[int]] = {0: []}
    for position, turn in enumerate(turns):
        lane = 0 if speech.mode == "downmix" else turn.channel
        by_lane.setdefault(lane, []).append(position)
    aligned: list[TurnAlignment] = [TurnAlignment()] * len(turns)
    heard: list[Segment] = []
    unowned: list[Segment] = []
    empty_turn_speech: list[float] = []
    for lane, positions in sorted(by_lane.items()):
        positions.sort(key=lambda p: (turns[p].channel, turns[p].index))
        segments = _lane_segments(speech, lane)
        times = [
            TurnTimes(
                turns[p].start_audio_s,
                turns[p].end_audio_s,
                turns[p].eager_end_audio_s,
                text=bool(turns[p].transcript.strip()),
            )
            for p in positions
        ]
        results, left = align_turns(times, segments, duration)
        heard.extend(segments)
        unowned.extend(left)
        previous_end = 0.0
        for p, result in zip(positions, results, strict=True):
            aligned[p] = result
            turn = turns[p]
            if not turn.transcript.strip():
                empty_turn_speech.append(_owned_s(segments, result, turn, previous_end))
            if turn.end_audio_s is not None:
                previous_end = turn.end_audio_s
    return JobTiming(tuple(aligned), judge(heard, unowned, empty_turn_speech))


__all__ = ["CLOCK_STEP_S", "FinishedTurn", "JobTiming", "time_job"]
