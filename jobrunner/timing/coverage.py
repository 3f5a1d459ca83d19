"""The coverage check: did the turns account for all the speech in the file?

A session can lose audio without any error event (a dropped frame range, a turn whose text
never came, a recognizer that stopped early), and a transcript that misses a sentence looks like
success. After alignment (:mod:`jobrunner.timing.align`) two facts betray it:

* mapped speech that no turn owns (after the last turn's end): at least :data:`UNCOVERED_S`
  seconds of it;
* a turn with an empty transcript that owns at least :data:`EMPTY_TURN_SPEECH_S` of speech.

The tolerances sit above what clean runs produce (a trailing breath, a cough the service rightly
ignores) and below a dropped sentence: the shortest turns in ``../shared/speech`` hold 0.4-1.2 s
of speech, and clean runs through the local whisper engine leave at most a few hundred ms
unowned (BENCHMARKS.md, speech map section). The job still succeeds; it carries the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from jobrunner.audio.vad import Segment

UNCOVERED_S: Final = 0.5
"""Unowned mapped speech, in seconds, that makes a job ``uncovered``."""
EMPTY_TURN_SPEECH_S: Final = 1.0
"""Speech an empty-text turn may own before it makes the job ``uncovered``."""

Verdict = Literal["covered", "uncovered"]


@dataclass(frozen=True)
class Coverage:
    """The verdict for one job (all channels): what was missed, and how much."""

    verdict: Verdict
    uncovered_s: float
    """Mapped speech owned by no turn, plus the speech of empty turns that were flagged."""
    speech_s: float
    empty_turns: int

    @property
    def flagged(self) -> bool:
        return self.verdict == "uncovered"


def _seconds(segments: Sequence[Segment]) -> float:
    return sum(max(0.0, s.end_s - s.start_s) for s in segments)


def judge(
    speech: Sequence[Segment],
    unowned: Sequence[Segment],
    empty_turn_speech: Sequence[float],
) -> Coverage:
    """The verdict from all mapped ``speech``, the ``unowned`` part of it, and the seconds of
    speech owned by each turn whose transcript is empty (all channels pooled)."""
    missed = _seconds(unowned)
    flagged_empty = [s for s in empty_turn_speech if s >= EMPTY_TURN_SPEECH_S]
    uncovered = missed + sum(flagged_empty)
    bad = missed >= UNCOVERED_S or bool(flagged_empty)
    return Coverage(
        verdict="uncovered" if bad else "covered",
        uncovered_s=round(uncovered, 3),
        speech_s=round(_seconds(speech), 3),
        empty_turns=len(flagged_empty),
    )


__all__ = ["EMPTY_TURN_SPEECH_S", "UNCOVERED_S", "Coverage", "Verdict", "judge"]
