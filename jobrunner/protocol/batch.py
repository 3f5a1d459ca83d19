"""The Batch endpoint (``POST /stt``) sans I/O: the multipart framing, the answer, the errors.

The request is ``multipart/form-data`` (protocol.md section 6): the fields ``model``,
``language`` and ``timestamp_granularities[]=word``, then ``file``. :func:`multipart_parts`
gives the bytes before and after the file's content, so the client can stream the file itself
from disk between them with an exact ``Content-Length`` (never the whole file in memory).

A 200 answer must be the documented JSON, ``{"type": "transcript", "text", "duration",
"language", "request_id", "words"}``; anything else is a bad answer
(:class:`ProtocolViolationError`, retryable, with the reason). An error status becomes the one
exception tree's class by :func:`status_error`, the body's ``message`` in the text:

=====================  ======================================  ============================
status                 error                                   the run
=====================  ======================================  ============================
401, 402, 403          :class:`AuthenticationError`            stops, exit 3
429                    :class:`RateLimitedError`               retried (Retry-After), lower
                                                               concurrency
5xx, 408, 425          :class:`ServerErrorEvent`               retried (Retry-After)
413                    :class:`RequestRejectedError`           the job fails: over the limit
other 4xx (400, 404,   :class:`RequestRejectedError`           the job fails at once
422)
=====================  ======================================  ============================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

from jobrunner.errors import (
    AuthenticationError,
    ProtocolViolationError,
    RateLimitedError,
    RequestRejectedError,
    ServerErrorEvent,
    SessionError,
)
from jobrunner.protocol.words import Word, parse_words

BATCH_PATH: Final = "/stt"
#: statuses below 500 that may clear up on their own (as on the websocket upgrade)
RETRYABLE_4XX: Final = frozenset({408, 425})


@dataclass(frozen=True)
class BatchRequest:
    """The form fields of one request (the file goes last)."""

    model: str
    language: str | None = None
    word_timestamps: bool = True

    def fields(self) -> list[tuple[str, str]]:
        pairs = [("model", self.model)]
        if self.language:
            pairs.append(("language", self.language))
        if self.word_timestamps:
            pairs.append(("timestamp_granularities[]", "word"))
        return pairs


def _quoted(value: str) -> str:
    """A header parameter value, quoted as browsers do (RFC 7578 section 4.2)."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_parts(
    request: BatchRequest, filename: str, content_type: str, boundary: str
) -> tuple[bytes, bytes]:
    """The body before the file's bytes and after them; the content type of the whole is
    ``multipart/form-data; boundary=<boundary>``."""
    head = bytearray()
    for name, value in request.fields():
        disposition = f'Content-Disposition: form-data; name="{_quoted(name)}"'
        head += f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{_quoted(filename)}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    return bytes(head), f"\r\n--{boundary}--\r\n".encode()


@dataclass(frozen=True)
class BatchTranscript:
    """A Batch answer: ``text`` verbatim, words in file seconds."""

    text: str
    duration: float | None
    language: str | None
    request_id: str | None
    words: tuple[Word, ...]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def parse_transcript(body: bytes) -> BatchTranscript:
    """The answer of a 200; :class:`ProtocolViolationError` when it is not the documented
    JSON (not JSON, not an object, no string ``text``, malformed ``words``)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolViolationError(f"batch answer (HTTP 200) is not JSON: {body[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise ProtocolViolationError(f"batch answer (HTTP 200) has no string 'text': {body[:80]!r}")
    rid = data.get("request_id")
    request_id = rid if isinstance(rid, str) else None
    kind = data.get("type", "transcript")
    if kind != "transcript":
        raise ProtocolViolationError(
            f"batch answer (HTTP 200) is of type {kind!r}, not 'transcript'",
            request_id=request_id,
        )
    language = data.get("language")
    try:
        words = parse_words(data.get("words")) or ()
    except ProtocolViolationError as exc:
        raise ProtocolViolationError(f"batch answer: {exc}", request_id=request_id) from exc
    return BatchTranscript(
        text=data["text"],
        duration=_number(data.get("duration")),
        language=language if isinstance(language, str) else None,
        request_id=request_id,
        words=words,
    )


def error_message(body: bytes) -> tuple[str | None, str | None]:
    """``(message, request_id)`` of an error body (``message``, else ``title``, else
    ``error``); ``None`` where the body does not say (not JSON, or no such field)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    message = next(
        (v for k in ("message", "title", "error") if isinstance(v := data.get(k), str) and v),
        None,
    )
    rid = data.get("request_id")
    return message, rid if isinstance(rid, str) else None


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date); ``None``
    when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def status_error(
    status: int, body: bytes, where: str, retry_after: float | None = None
) -> SessionError:
    """The error of a non-200 answer from ``where`` (a redacted URL); see the module table.
    ``retry_after``: the answer's ``Retry-After`` in seconds, kept on a retryable error."""
    error = _status_error(status, body, where)
    if error.retryable:
        error.retry_after_s = retry_after
    return error


def _status_error(status: int, body: bytes, where: str) -> SessionError:
    message, request_id = error_message(body)
    said = f": {message}" if message else ""
    text = f"HTTP {status} from {where}{said}"
    if status in (401, 402, 403):
        return AuthenticationError(
            f"{text} (the API key was refused or the plan has no credit for this: check "
            "CARTESIA_API_KEY / plan)",
            http_status=status,
            request_id=request_id,
        )
    if status == 429:
        return RateLimitedError(text, http_status=status, request_id=request_id)
    if status == 413:
        return RequestRejectedError(
            f"{text} (the file is over the service's size limit for one request)",
            http_status=status,
            request_id=request_id,
        )
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return RequestRejectedError(text, http_status=status, request_id=request_id)
    return ServerErrorEvent(text, http_status=status, request_id=request_id)


__all__ = [
    "BATCH_PATH",
    "BatchRequest",
    "BatchTranscript",
    "error_message",
    "multipart_parts",
    "parse_transcript",
    "retry_after_s",
    "status_error",
]
