"""One file through one request to the Batch endpoint (``POST /stt``), no database.

httpx's :class:`~httpx.AsyncClient` (on anyio) sends the file as it is on disk, streamed in
:data:`UPLOAD_CHUNK_BYTES` reads in a worker thread between the multipart head and tail of
:func:`jobrunner.protocol.batch.multipart_parts`, with an exact ``Content-Length``: a one-hour
file never sits in memory. No pacing: the answer comes when the service has transcribed it.

This module is the httpx boundary: its exceptions become :mod:`jobrunner.errors` here, once
(refused or unresolvable -> :class:`ConnectError`; no answer in time -> :class:`StallError`;
the connection dropped -> :class:`ConnectionLostError`), and an HTTP status becomes its class by
:func:`jobrunner.protocol.batch.status_error`. Like the websocket connect phase, 429 and 5xx are
retried here, up to ``connect_tries`` requests, waiting the backoff of
:func:`jobrunner.retry.backoff_s` or the ``Retry-After`` the service asked for, whichever is
longer; a ``Retry-After`` longer than the connect phase's longest wait (``backoff_cap_s`` x
``rate_limit_factor``) ends the tries, and the queue waits it instead of a held slot
(:func:`jobrunner.retry.decide` honours ``retry_after_s`` too). ``on_retry`` hears of each
(the worker lowers its concurrency on a 429). Every
other failure, and the last retried one, is raised with :class:`SessionFacts` for the attempt
row; the queue's policy (:func:`jobrunner.retry.decide`) decides what comes next.
"""

from __future__ import annotations

import mimetypes
import os
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import httpx

from jobrunner.audio.stream import WirePlan
from jobrunner.client.cancel import until_cancelled
from jobrunner.client.source import Enqueued, checked_plan
from jobrunner.client.transport import OnRetry, Sleep, connect_backoff
from jobrunner.config import Settings
from jobrunner.errors import (
    ConfigError,
    ConnectError,
    ConnectionLostError,
    SessionCancelled,
    SessionError,
    SessionFacts,
    StallError,
)
from jobrunner.protocol.batch import (
    BATCH_PATH,
    BatchRequest,
    BatchTranscript,
    multipart_parts,
    parse_transcript,
    retry_after_s,
    status_error,
)
from jobrunner.protocol.handshake import USER_AGENT, build_headers
from jobrunner.redact import redact_url
from jobrunner.retry import backoff_s

UPLOAD_CHUNK_BYTES: Final = 256 * 1024
_SCHEMES: Final = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


@dataclass(frozen=True)
class BatchResult:
    """A successful request: the answer and how the request went."""

    answer: BatchTranscript
    plan: WirePlan
    http_status: int
    bytes_sent: int
    tries: int
    request_s: float
    """From the start of the last try to its answer (upload and transcription)."""
    started_at: datetime
    ended_at: datetime

    @property
    def request_id(self) -> str | None:
        return self.answer.request_id

    @property
    def transcript(self) -> str:
        return self.answer.text


def batch_url(base_url: str) -> str:
    """``POST /stt`` under ``base_url`` (its path prefix and query kept; ws(s) taken as
    http(s), so one profile's base URL serves all three endpoints)."""
    parts = urlsplit(base_url.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ConfigError(f"base_url must be an http(s):// or ws(s):// URL, got {base_url!r}")
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + BATCH_PATH, query, ""))


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


class _Upload:
    """One request's body: head, the file from disk, tail. Counts what went out."""

    def __init__(self, path: str, request: BatchRequest) -> None:
        self.path = path
        self.boundary = secrets.token_hex(16)
        self.head, self.tail = multipart_parts(
            request, os.path.basename(path), _content_type(path), self.boundary
        )
        self.size = os.stat(path).st_size
        self.bytes_sent = 0

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(len(self.head) + self.size + len(self.tail)),
        }

    async def body(self) -> AsyncIterator[bytes]:
        yield self.head
        async with await anyio.open_file(self.path, "rb") as file:
            while chunk := await file.read(UPLOAD_CHUNK_BYTES):
                self.bytes_sent += len(chunk)
                yield chunk
        yield self.tail


class _Request:
    """The tries of one :func:`transcribe_batch` call (not reusable)."""

    def __init__(
        self,
        path: str,
        settings: Settings,
        plan: WirePlan,
        *,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Sleep,
        on_retry: OnRetry | None,
        on_answer: Callable[[], None] | None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.plan = plan
        self.url = batch_url(settings.base_url)
        self.where = redact_url(self.url)
        self.request = BatchRequest(model=settings.batch_model, language=settings.language)
        self.transport = transport
        self.sleep = sleep
        self.on_retry = on_retry
        self.on_answer = on_answer
        self.tries = 0
        self.bytes_sent = 0
        self.request_id: str | None = None
        self.started_at = datetime.now(UTC)

    def facts(self) -> SessionFacts:
        share = self.bytes_sent / max(1, os.path.getsize(self.path)) if self.bytes_sent else 0.0
        return SessionFacts(
            request_id=self.request_id,
            connect_tries=self.tries,
            audio_s_sent=round(min(1.0, share) * self.plan.duration_s, 3),
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
        )

    def _timeout(self) -> httpx.Timeout:
        answer_s = self.settings.drain_timeout_s + self.plan.duration_s
        return httpx.Timeout(answer_s, connect=self.settings.open_timeout_s)

    async def run(self) -> BatchResult:
        chance = random.Random()
        limit = max(1, self.settings.connect_tries)
        headers = build_headers(self.settings.api_key, self.settings.cartesia_version)
        headers["User-Agent"] = USER_AGENT
        async with httpx.AsyncClient(transport=self.transport, timeout=self._timeout()) as client:
            while True:
                self.tries += 1
                began = time.monotonic()
                try:
                    status, body, answer = await self._try(client, headers)
                except SessionError as exc:
                    wait = self._wait(exc, chance.random(), limit)
                    if wait is None:
                        raise exc.with_facts(self.facts(), request_id=self.request_id) from exc
                    if self.on_retry is not None:
                        self.on_retry(exc, wait)
                    await self.sleep(wait)
                    continue
                return BatchResult(
                    answer=answer,
                    plan=self.plan,
                    http_status=status,
                    bytes_sent=self.bytes_sent,
                    tries=self.tries,
                    request_s=time.monotonic() - began,
                    started_at=self.started_at,
                    ended_at=datetime.now(UTC),
                )

    def _wait(self, error: SessionError, jitter: float, limit: int) -> float | None:
        """Seconds before the next try, or None: no more tries here (only an HTTP status that
        may clear up is retried here; a timeout or a bad answer is the queue's to retry)."""
        if not (error.retryable and error.http_status is not None) or self.tries >= limit:
            return None
        settings, asked = self.settings, error.retry_after_s
        seconds = backoff_s(connect_backoff(settings), self.tries, error, jitter)
        if asked is not None:
            if asked > settings.backoff_cap_s * settings.rate_limit_factor:
                return None  # longer than a connect phase waits: the queue waits instead
            seconds = max(seconds, asked)
        return seconds

    async def _try(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> tuple[int, bytes, BatchTranscript]:
        upload = _Upload(self.path, self.request)
        try:
            async with client.stream(
                "POST", self.url, content=upload.body(), headers=headers | upload.headers
            ) as response:
                body = await response.aread()
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot connect to {self.where}: {exc}") from exc
        except httpx.TimeoutException as exc:
            what = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
            raise StallError(f"no {what} from {self.where} in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise ConnectionLostError(
                f"connection to {self.where} lost during the request: {exc!r}"
            ) from exc
        finally:
            self.bytes_sent = upload.bytes_sent
        if self.on_answer is not None:
            self.on_answer()
        if response.status_code != 200:
            asked = retry_after_s(response.headers.get("retry-after"), datetime.now(UTC))
            error = status_error(response.status_code, body, self.where, asked)
            self.request_id = error.request_id or self.request_id
            raise error
        answer = parse_transcript(body)
        self.request_id = answer.request_id
        return response.status_code, body, answer


async def transcribe_batch(
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    cancel_event: anyio.Event | None = None,
    on_connect_retry: OnRetry | None = None,
    on_answer: Callable[[], None] | None = None,
    enqueued: Enqueued | None = None,
    sleep: Sleep = anyio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BatchResult:
    """Transcribe ``path`` with one ``POST /stt`` (retried as the module docstring says).

    Raises :class:`FileUnavailableError`/:class:`FileChangedError`/:class:`AudioError` as the
    realtime clients do before any request, a :class:`SessionError` subclass with ``facts``,
    or :class:`SessionCancelled` when ``cancel_event`` was set first. ``on_answer`` hears of
    every HTTP answer (the service is reachable); ``transport`` is for tests.
    """
    name = os.fspath(path)
    plan = await checked_plan(name, settings, enqueued, cancel_event)
    request = _Request(
        name,
        settings,
        plan,
        transport=transport,
        sleep=sleep,
        on_retry=on_connect_retry,
        on_answer=on_answer,
    )
    result = await until_cancelled(cancel_event, request.run)
    if result is None:
        raise SessionCancelled(
            f"batch request cancelled after {request.tries} tries", facts=request.facts()
        )
    return result


__all__ = ["BatchResult", "batch_url", "transcribe_batch"]
