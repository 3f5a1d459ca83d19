"""Wire types of the Manual endpoint (``/stt/websocket``): its query and its events.

Facts from the official Python SDK (``cartesia`` 4.x, ``ManualFinalizeResource._connect_ws``):
the URL is the base URL's path plus ``/stt/websocket``; the query is ``encoding``, ``model``,
``sample_rate``, ``keyterm`` (one pair per term), ``language``, ``max_silence_duration_secs``,
``min_volume``, in that order, unset ones left out. The last two are ink-whisper's only
(protocol.md section 2): :meth:`ManualParams.validate` refuses them for another model.

Client commands are plain text, not JSON (protocol.md section 5): :data:`FINALIZE` (transcribe
what is buffered now; answered by the finals, then ``flush_done``) and :data:`CLOSE` (flush,
then ``done``, then the server closes). Server events are JSON: ``transcript`` (a delta; only
``is_final: true`` texts make the transcript), ``flush_done``, ``done`` and ``error`` (parsed as
on the Auto endpoint, legacy shapes included). Auto's event types here are
:class:`UnknownEvent`: kept and counted, never a turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final

from jobrunner.errors import ConfigError, ProtocolViolationError
from jobrunner.protocol.events import ErrorEvent, UnknownEvent, parse_server_event
from jobrunner.protocol.handshake import StreamParams
from jobrunner.protocol.words import Word, parse_words

if TYPE_CHECKING:
    from jobrunner.config import Settings

MANUAL_PATH: Final = "/stt/websocket"
FINALIZE: Final = "finalize"
CLOSE: Final = "close"
WHISPER: Final = "ink-whisper"


@dataclass(frozen=True)
class ManualParams(StreamParams):
    """The Manual query: Auto's wire format and keyterms, no turn thresholds, plus
    ``language`` and ink-whisper's ``min_volume``/``max_silence_duration_secs``."""

    language: str | None = None
    min_volume: float | None = None
    max_silence_duration_secs: float | None = None

    OPTIONAL: ClassVar[tuple[str, ...]] = ("language", "max_silence_duration_secs", "min_volume")

    @classmethod
    def from_settings(cls, settings: Settings, *, encoding: str, sample_rate: int) -> ManualParams:
        auto = StreamParams.from_settings(settings, encoding=encoding, sample_rate=sample_rate)
        return cls(
            model=auto.model,
            encoding=auto.encoding,
            sample_rate=auto.sample_rate,
            keyterms=auto.keyterms,  # no turn thresholds: the client decides where turns end
            language=settings.language,
            min_volume=settings.min_volume,
            max_silence_duration_secs=settings.max_silence_duration_secs,
        )

    def validate(self) -> None:
        super().validate()
        if self.language is not None and not self.language.strip():
            raise ConfigError("language must not be empty")
        for name in ("min_volume", "max_silence_duration_secs"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.model != WHISPER:
                raise ConfigError(f"{name} is for model {WHISPER} only, not {self.model}")
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class ManualTranscript:
    """A transcript chunk: ``text`` is a delta. Finals are appended verbatim; an interim one
    is a preview of what the next final will say."""

    text: str
    is_final: bool
    request_id: str | None = None
    duration: float | None = None
    language: str | None = None
    words: tuple[Word, ...] | None = None
    type: str = field(default="transcript", init=False)


@dataclass(frozen=True)
class FlushDone:
    """Every final of one ``finalize`` has been sent."""

    request_id: str | None = None
    type: str = field(default="flush_done", init=False)


@dataclass(frozen=True)
class Done:
    """Every final after our ``close`` has been sent; the server closes next."""

    request_id: str | None = None
    type: str = field(default="done", init=False)


ManualEvent = ManualTranscript | FlushDone | Done | ErrorEvent | UnknownEvent


def _transcript(data: dict[str, object]) -> ManualTranscript:
    text, final = data.get("text", ""), data.get("is_final")
    if not isinstance(text, str):
        raise ProtocolViolationError(f"transcript event has a non-string text: {text!r:.80}")
    if not isinstance(final, bool):
        raise ProtocolViolationError(f"transcript event without a boolean is_final: {final!r}")
    duration, language = data.get("duration"), data.get("language")
    return ManualTranscript(
        text=text,
        is_final=final,
        request_id=rid if isinstance(rid := data.get("request_id"), str) else None,
        duration=float(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else None,
        language=language if isinstance(language, str) else None,
        words=parse_words(data.get("words")),
    )


def parse_manual_event(text: str | bytes) -> ManualEvent:
    """Parse one server frame of the Manual endpoint. Raises :class:`ProtocolViolationError`
    for a frame that is not an event, or a ``transcript`` without its fields."""
    event = parse_server_event(text)
    if isinstance(event, ErrorEvent):
        return event
    if not isinstance(event, UnknownEvent):  # an Auto event: not this endpoint's
        return UnknownEvent(type=event.type, data=json.loads(text), request_id=event.request_id)
    if event.type == "transcript":
        return _transcript(event.data)
    if event.type == "flush_done":
        return FlushDone(request_id=event.request_id)
    if event.type == "done":
        return Done(request_id=event.request_id)
    return event


__all__ = [
    "CLOSE",
    "FINALIZE",
    "MANUAL_PATH",
    "Done",
    "FlushDone",
    "ManualEvent",
    "ManualParams",
    "ManualTranscript",
    "parse_manual_event",
]
