"""A Batch answer as turns: the speech map's segments filled with the answer's words. Pure.

The Batch endpoint answers with one text and its words; per-turn exports and subtitles need
turns. Each speech segment becomes a turn holding the words whose middle falls inside it; a word
outside every segment goes to the nearest one (the detector's edges are not the recognizer's),
and segments without words make no turn. Each turn's text is a slice of the answer's text, cut
where the previous turn's last word ends, so the turns joined are the text verbatim (later
turns begin with their space, as Auto's do). Without words, or without a map, or when the words
cannot be found in the text in order, the whole text is one turn.

Timings are honest about the endpoint: every word reached us after the whole file had been
sent, so each turn's event times are the file's duration. Alignment then treats the turns as
flush-time turns: speech times from the map, no latencies (a batch answer has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobrunner.audio.vad import Segment
from jobrunner.protocol.words import Word


@dataclass(frozen=True)
class BatchTurn:
    text: str
    words: tuple[Word, ...]


def _nearest(segments: Sequence[Segment], at: float) -> int:
    def distance(k: int) -> float:
        segment = segments[k]
        return max(segment.start_s - at, at - segment.end_s, 0.0)

    return min(range(len(segments)), key=distance)


def _groups(words: Sequence[Word], segments: Sequence[Segment]) -> list[list[Word]]:
    """Words by segment, in order; a word never goes to an earlier segment than the word
    before it (the text is cut in order)."""
    groups: list[list[Word]] = [[] for _ in segments]
    floor = 0
    for word in words:
        k = max(floor, _nearest(segments, (word.start + word.end) / 2))
        groups[k].append(word)
        floor = k
    return [group for group in groups if group]


def _word_ends(text: str, words: Sequence[Word]) -> list[int] | None:
    """Where each word ends in ``text`` (found in order), or None if one is not there."""
    ends, cursor = [], 0
    for word in words:
        at = text.find(word.word.strip(), cursor)
        if at < 0:
            return None
        cursor = at + len(word.word.strip())
        ends.append(cursor)
    return ends


def batch_turns(
    text: str, words: Sequence[Word], segments: Sequence[Segment] | None
) -> list[BatchTurn]:
    """The turns of one answer (see the module docstring); joined, their texts are ``text``."""
    whole = [BatchTurn(text, tuple(words))] if text or words else []
    if not words or not segments:
        return whole
    groups = _groups(words, sorted(segments, key=lambda s: s.start_s))
    ends = _word_ends(text, words)
    if ends is None or len(groups) < 2:
        return whole
    turns, start, seen = [], 0, 0
    for k, group in enumerate(groups):
        seen += len(group)
        stop = len(text) if k == len(groups) - 1 else ends[seen - 1]
        turns.append(BatchTurn(text[start:stop], tuple(group)))
        start = stop
    return turns


__all__ = ["BatchTurn", "batch_turns"]
