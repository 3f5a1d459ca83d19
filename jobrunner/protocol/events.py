"""Wire types of the Auto endpoint (``/stt/turns/websocket``), both directions.

Server -> client frames are JSON text discriminated by ``type``. Parsing is total: an
unknown ``type`` becomes :class:`UnknownEvent` (kept, logged by the caller, never fatal);
only text that is not a JSON object with a string ``type`` is a protocol violation. Error
events are accepted in the current shape and the two legacy ones
(``{"message", "code"}`` and ``{"error"}``). Client messages are encoded as the official SDK
encodes them (``json.dumps`` defaults: ``{"type": "close"}``); server events compactly. Parsers
never compare text byte-for-byte (the SDK may indent what it sends).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from jobrunner.errors import ProtocolViolationError

AUTO_PATH: Final = "/stt/turns/websocket"


@dataclass(frozen=True)
class Connected:
    request_id: str | None = None
    type: str = field(default="connected", init=False)


@dataclass(frozen=True)
class TurnStart:
    request_id: str | None = None
    type: str = field(default="turn.start", init=False)


@dataclass(frozen=True)
class TurnUpdate:
    """Cumulative text of the open turn (may repeat unchanged). State, not text to append."""

    transcript: str
    request_id: str | None = None
    type: str = field(default="turn.update", init=False)


@dataclass(frozen=True)
class TurnEagerEnd:
    """Preview: the speaker might be done. Cumulative text."""

    transcript: str
    request_id: str | None = None
    type: str = field(default="turn.eager_end", init=False)


@dataclass(frozen=True)
class TurnResume:
    request_id: str | None = None
    type: str = field(default="turn.resume", init=False)


@dataclass(frozen=True)
class TurnEnd:
    """The definitive text of one turn, verbatim (may be empty, usually starts with a space)."""

    transcript: str
    request_id: str | None = None
    type: str = field(default="turn.end", init=False)


@dataclass(frozen=True)
class ErrorEvent:
    """Terminal: the server closes after it. ``status_code`` decides retryability."""

    message: str
    status_code: int | None = None
    title: str | None = None
    error_code: str | None = None
    doc_url: str | None = None
    request_id: str | None = None
    done: bool | None = None
    type: str = field(default="error", init=False)


@dataclass(frozen=True)
class UnknownEvent:
    """A ``type`` this client does not know; kept so nothing the server says is lost."""

    type: str
    data: dict[str, object]
    """The whole JSON object as received."""
    request_id: str | None = None


ServerEvent = (
    Connected
    | TurnStart
    | TurnUpdate
    | TurnEagerEnd
    | TurnResume
    | TurnEnd
    | ErrorEvent
    | UnknownEvent
)


def _opt_str(data: dict[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _transcript(data: dict[str, object], kind: str) -> str:
    value = data.get("transcript", "")
    if not isinstance(value, str):
        raise ProtocolViolationError(f"{kind} event has a non-string transcript: {value!r}")
    return value


def parse_server_event(text: str | bytes) -> ServerEvent:
    """Parse one server frame. Raises :class:`ProtocolViolationError` if it is not an event."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolViolationError(
            f"server sent a frame that is not JSON: {text[:80]!r}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolViolationError(
            f"server sent JSON without a string 'type': {str(text)[:80]!r}"
        )
    kind: str = data["type"]
    rid = _opt_str(data, "request_id")
    if kind == "connected":
        return Connected(request_id=rid)
    if kind == "turn.start":
        return TurnStart(request_id=rid)
    if kind == "turn.update":
        return TurnUpdate(transcript=_transcript(data, kind), request_id=rid)
    if kind == "turn.eager_end":
        return TurnEagerEnd(transcript=_transcript(data, kind), request_id=rid)
    if kind == "turn.resume":
        return TurnResume(request_id=rid)
    if kind == "turn.end":
        return TurnEnd(transcript=_transcript(data, kind), request_id=rid)
    if kind == "error":
        message = (
            _opt_str(data, "message") or _opt_str(data, "error") or _opt_str(data, "title") or ""
        )
        status = _opt_int(data.get("status_code"))
        if status is None:
            status = _opt_int(data.get("code"))
        done = data.get("done")
        return ErrorEvent(
            message=message or "unspecified server error",
            status_code=status,
            title=_opt_str(data, "title"),
            error_code=_opt_str(data, "error_code"),
            doc_url=_opt_str(data, "doc_url"),
            request_id=rid,
            done=done if isinstance(done, bool) else None,
        )
    return UnknownEvent(type=kind, data=data, request_id=rid)


def encode_server_event(event: ServerEvent) -> str:
    """Compact JSON for a server event, omitting ``None`` fields (used by the local server)."""
    if isinstance(event, UnknownEvent):
        payload: dict[str, object] = dict(event.data)
        payload["type"] = event.type
    else:
        payload = {"type": event.type}
        for name, value in vars(event).items():
            if name != "type" and value is not None:
                payload[name] = value
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# --- client -> server -------------------------------------------------------------------

CLOSE_MESSAGE: Final = json.dumps({"type": "close"})
"""Sent after the last audio chunk: flush, emit the remaining events, then the server closes."""


@dataclass(frozen=True)
class CloseRequest:
    type: str = field(default="close", init=False)


@dataclass(frozen=True)
class ConfigRequest:
    """Live turn-detection settings; every field optional, no acknowledgement."""

    start_threshold: float | None = None
    eager_end_threshold: float | None = None
    end_threshold: float | None = None
    end_timeout_ms: float | None = None
    type: str = field(default="config", init=False)


ClientMessage = CloseRequest | ConfigRequest


def encode_config(request: ConfigRequest) -> str:
    turn = {k: v for k, v in vars(request).items() if k != "type" and v is not None}
    return json.dumps({"type": "config", "turn": turn})


def _opt_number(turn: dict[str, object], key: str) -> float | None:
    value = turn.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolViolationError(f"config.turn.{key} must be a number, got {value!r}")
    return float(value)


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse a client text frame (used by the local server). Unknown types are violations."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolViolationError(
            f"client sent a text frame that is not JSON: {text[:80]!r}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolViolationError("client sent JSON without a string 'type'")
    kind = data["type"]
    if kind == "close":
        return CloseRequest()
    if kind == "config":
        turn = data.get("turn") or {}
        if not isinstance(turn, dict):
            raise ProtocolViolationError("config.turn must be an object")
        return ConfigRequest(
            start_threshold=_opt_number(turn, "start_threshold"),
            eager_end_threshold=_opt_number(turn, "eager_end_threshold"),
            end_threshold=_opt_number(turn, "end_threshold"),
            end_timeout_ms=_opt_number(turn, "end_timeout_ms"),
        )
    raise ProtocolViolationError(f"unknown client message type {kind!r}")
