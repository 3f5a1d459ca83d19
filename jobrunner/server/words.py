"""Word times: what an engine knows beyond the turn events, for Manual and Batch answers.

The Auto wire has no word times, so :class:`TurnWords` is not a wire event: an engine that
knows the words of a turn emits one right before that turn's ``turn.end`` (its times in
seconds of the session's audio), the Auto session drops it, and Manual and Batch put the
words into their ``transcript`` answers as ``[{"word", "start", "end"}]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobrunner.protocol.events import ServerEvent


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float

    def as_json(self) -> dict[str, Any]:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(frozen=True)
class TurnWords:
    """The words of the turn whose ``turn.end`` follows."""

    words: tuple[Word, ...]


#: what a recognition returns: wire events of the Auto endpoint, and word times
EngineEvent = ServerEvent | TurnWords

__all__ = ["EngineEvent", "TurnWords", "Word"]
