"""Word timings as Manual transcripts and Batch answers carry them, in either shape.

protocol.md documents a list of objects, ``[{"word": "hi", "start": 0.1, "end": 0.3}, ...]``;
the official SDK (``cartesia`` 4.x, ``WordTimestamps``) models parallel arrays,
``{"words": [..], "start": [..], "end": [..]}``, alone or in a list. :func:`parse_words`
takes all three and gives one form back. Anything else is a bad answer
(:class:`ProtocolViolationError`, retryable): word times are part of the result, so a malformed
list is never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobrunner.errors import ProtocolViolationError


@dataclass(frozen=True)
class Word:
    """One word and its times in seconds, as the service gave them."""

    word: str
    start: float
    end: float

    def as_json(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end}


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolViolationError(f"word {what} is not a number: {value!r}")
    return float(value)


def _word(item: object) -> Word:
    if not isinstance(item, dict) or not isinstance(item.get("word"), str):
        raise ProtocolViolationError(f"word entry is not {{word, start, end}}: {item!r:.80}")
    return Word(
        item["word"], _seconds(item.get("start"), "start"), _seconds(item.get("end"), "end")
    )


def _parallel(item: dict[str, Any]) -> list[Word]:
    words, starts, ends = item.get("words"), item.get("start"), item.get("end")
    if not (isinstance(words, list) and isinstance(starts, list) and isinstance(ends, list)):
        raise ProtocolViolationError("parallel word timings need lists words, start and end")
    if not len(words) == len(starts) == len(ends):
        raise ProtocolViolationError(
            f"parallel word timings of unequal lengths ({len(words)}, {len(starts)}, {len(ends)})"
        )
    return [
        _word({"word": w, "start": s, "end": e})
        for w, s, e in zip(words, starts, ends, strict=True)
    ]


def parse_words(value: object) -> tuple[Word, ...] | None:
    """The words of a transcript's ``words`` field; ``None`` when it is absent (null)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return tuple(_parallel(value))
    if not isinstance(value, list):
        raise ProtocolViolationError(f"words is neither a list nor an object: {value!r:.80}")
    found: list[Word] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("words"), list):
            found.extend(_parallel(item))
        else:
            found.append(_word(item))
    return tuple(found)


__all__ = ["Word", "parse_words"]
