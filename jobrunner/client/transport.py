"""The websocket boundary: websockets' asyncio client in, :mod:`jobrunner.errors` out.

This is the only module that imports ``websockets``. Every exception the library (or the OS)
raises is translated here, once:

==========================================  ============================================
raised by websockets / the OS               becomes
==========================================  ============================================
``InvalidStatus`` 401, 402, 403             :class:`AuthenticationError` (never retried)
``InvalidStatus`` 429                       :class:`RateLimitedError` (longer backoff)
``InvalidStatus`` other 4xx but 408, 425    :class:`UpgradeRejectedError` (never retried;
                                            404: no endpoint at that URL)
``InvalidStatus`` anything else             :class:`ServerHandshakeError`
other ``InvalidHandshake``                  :class:`ServerHandshakeError`
``InvalidMessage`` (EOF in the handshake),  :class:`ConnectError`
refused, reset, DNS, TLS, open timeout
``InvalidURI``                              :class:`ConfigError`
``ConnectionClosed`` while sending          :class:`ConnectionLostError` (with close code)
``ConnectionClosed`` while receiving        ``receive()`` returns ``None``; the caller
                                            judges :attr:`Transport.close_code`
==========================================  ============================================

Messages name the redacted URL and the HTTP status, never the key. Connection settings follow
protocol.md section 8 (open timeout from settings, ping every 20 s with a 20 s timeout, close
timeout 10 s, 1 MiB messages): the keepalive ping is what notices a dead peer while we stream.
Compression (permessage-deflate) is not offered: audio does not shrink, and deflating each
chunk cost more CPU than everything else the client does per chunk.

:func:`connect_with_retry` retries the *connect phase* only (never a session that carried audio)
with :func:`jobrunner.retry.backoff_s` (the official SDK's exponential backoff with jitter) on
the ``backoff_base_s``/``backoff_cap_s`` scale; after a 429 the wait is ``rate_limit_factor``
times longer; failures that are not retryable (authentication, a wrong URL) end at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.protocol import State

from jobrunner.config import Settings
from jobrunner.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectionLostError,
    RateLimitedError,
    ServerHandshakeError,
    SessionError,
    SessionFacts,
    UpgradeRejectedError,
)
from jobrunner.net import is_loopback
from jobrunner.protocol.handshake import USER_AGENT
from jobrunner.protocol.lifecycle import ABNORMAL_CLOSURE, NORMAL_CLOSURE
from jobrunner.redact import redact_library_logs, redact_url
from jobrunner.retry import RetryPolicy, backoff_s

logger = logging.getLogger(__name__)
redact_library_logs()  # websockets logs handshake headers at DEBUG

PING_INTERVAL_S: Final = 20.0
PING_TIMEOUT_S: Final = 20.0
CLOSE_TIMEOUT_S: Final = 10.0
MAX_MESSAGE_BYTES: Final = 1 << 20

#: 4xx statuses on the upgrade that may clear up: request timeout, too early (429 has its own class)
RETRYABLE_4XX: Final = frozenset({408, 425})

Sleep = Callable[[float], Awaitable[None]]
#: told about each failed connect try that will be retried: (error, seconds until the next)
OnRetry = Callable[[SessionError, float], None]


def map_handshake_error(
    exc: BaseException, url: str, open_timeout_s: float, facts: SessionFacts | None = None
) -> Exception:
    """The :mod:`jobrunner.errors` equivalent of an exception raised while connecting, with
    ``facts`` (the connect phase so far) attached."""
    where = redact_url(url)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 402, 403):
            return AuthenticationError(
                f"HTTP {status} on the upgrade to {where}: the API key was refused or the plan "
                "has no credit for this (check CARTESIA_API_KEY / plan)",
                http_status=status,
                facts=facts,
            )
        if status == 429:
            return RateLimitedError(
                f"HTTP 429 on the upgrade to {where}: too many concurrent streams for this plan",
                http_status=status,
                facts=facts,
            )
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            what = "no realtime endpoint at this URL" if status == 404 else "request refused"
            return UpgradeRejectedError(
                f"HTTP {status} on the upgrade to {where}: {what} (check the base URL: "
                "--base-url, CARTESIA_BASE_URL or the profile's base_url)",
                http_status=status,
                facts=facts,
            )
        return ServerHandshakeError(
            f"HTTP {status} on the upgrade to {where}", http_status=status, facts=facts
        )
    if isinstance(exc, InvalidURI):
        return ConfigError(f"invalid websocket URL {where}: {exc.msg}")
    if isinstance(exc, InvalidMessage):
        cause = exc.__cause__ or exc
        return ConnectError(
            f"connection to {where} dropped during the handshake: {cause!r}", facts=facts
        )
    if isinstance(exc, InvalidHandshake):
        return ServerHandshakeError(f"bad handshake from {where}: {exc}", facts=facts)
    if isinstance(exc, TimeoutError):
        return ConnectError(f"no handshake from {where} within {open_timeout_s:g} s", facts=facts)
    if isinstance(exc, ConnectionClosed):
        return ConnectError(f"connection to {where} closed during the handshake", facts=facts)
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {where}: {exc.strerror or exc!r}", facts=facts)
    return ConnectError(f"cannot connect to {where}: {exc!r}", facts=facts)


def _close_code(exc: ConnectionClosed) -> tuple[int, str]:
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    if exc.sent is not None:  # we failed the connection (e.g. keepalive ping timeout)
        return ABNORMAL_CLOSURE, exc.sent.reason or "no close frame received"
    return ABNORMAL_CLOSURE, "no close frame received"


class Transport:
    """One open websocket. Send audio/text, receive text frames, close.

    ``receive`` returns ``None`` once the connection is closed; :attr:`close_code` (1006 when
    no close frame came) and :attr:`close_reason` then say how it ended.
    """

    def __init__(
        self, ws: ClientConnection, *, url: str, connect_tries: int, connect_s: float
    ) -> None:
        self._ws = ws
        self.url = redact_url(url)
        self.connect_tries = connect_tries
        self.connect_s = connect_s
        self.close_code: int | None = None
        self.close_reason = ""

    def _note_closed(self, exc: ConnectionClosed) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = _close_code(exc)

    async def send(self, data: bytes | str) -> None:
        """Send one binary (audio) or text (JSON message) frame."""
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            self._note_closed(exc)
            raise ConnectionLostError(
                f"connection closed while sending (code {self.close_code}"
                f"{', ' + self.close_reason if self.close_reason else ''})",
                close_code=self.close_code,
            ) from exc

    async def receive(self) -> str | bytes | None:
        """The next frame, or ``None`` when the connection has closed. Safe to cancel."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            self._note_closed(exc)
            return None

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close from our side, bounded by the close timeout and shielded from cancellation,
        so a cancelled session still leaves the server a proper close frame."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S + 1):
            try:
                await self._ws.close(code, reason)
            except (OSError, ConnectionClosed) as exc:
                logger.debug("close of %s failed: %r", self.url, exc)
        if self.close_code is None:
            if self._ws.state is State.CLOSED:
                self._note_closed(self._ws.close_exc)
            else:  # the close timed out
                self.close_code = ABNORMAL_CLOSURE


async def connect(
    url: str,
    headers: Mapping[str, str],
    *,
    open_timeout_s: float = 10.0,
    tries: int = 1,
    since: float | None = None,
) -> Transport:
    """One connection attempt, try number ``tries`` of a connect phase that began at ``since``
    (``time.monotonic()``; default: now). Raises :class:`SessionError` subclasses carrying the
    phase's facts, or :class:`ConfigError`.

    ``headers`` carries the key (``Authorization``); it goes to the socket and nowhere else.
    """
    started = time.monotonic() if since is None else since
    try:
        ws = await ws_connect(
            url,
            additional_headers=dict(headers),
            user_agent_header=USER_AGENT,
            open_timeout=open_timeout_s,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            max_size=MAX_MESSAGE_BYTES,
            # no permessage-deflate: PCM barely compresses, and deflating every 100 ms chunk
            # was over half of the client's CPU (bench/: 162 vs 435 us per chunk at 200 sessions)
            compression=None,
            # a proxy from the environment must not capture the bundled local server
            proxy=None if is_loopback(urlsplit(url).hostname or "") else True,
        )
    except (WebSocketException, OSError, TimeoutError) as exc:
        facts = SessionFacts(connect_tries=tries, connect_s=time.monotonic() - started)
        raise map_handshake_error(exc, url, open_timeout_s, facts) from exc
    return Transport(ws, url=url, connect_tries=tries, connect_s=time.monotonic() - started)


def connect_backoff(settings: Settings) -> RetryPolicy:
    """The connect phase's backoff: the queue's formula on the connect scale (``backoff_*``)."""
    return RetryPolicy(
        base_s=settings.backoff_base_s,
        cap_s=settings.backoff_cap_s,
        rate_limit_factor=settings.rate_limit_factor,
    )


async def connect_with_retry(
    url: str,
    headers: Mapping[str, str],
    settings: Settings,
    *,
    sleep: Sleep = anyio.sleep,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> Transport:
    """:func:`connect`, retried on retryable failures up to ``settings.connect_tries`` tries.

    The returned transport says how many tries it took (``connect_tries``) and how long the
    whole connect phase lasted, waits included (``connect_s``); the last error carries the same
    in its ``facts``. ``sleep`` and ``rng`` are injectable so tests never wait. ``on_retry``
    hears of every retried failure (the worker lowers its concurrency on a 429).
    """
    policy = connect_backoff(settings)
    chance = rng or random.Random()
    limit = max(1, settings.connect_tries)
    started = time.monotonic()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        assert isinstance(error, SessionError)  # only those are retried
        seconds = backoff_s(policy, state.attempt_number, error, chance.random())
        logger.info(
            "connect try %d/%d failed (%s); next in %.2f s",
            state.attempt_number,
            limit,
            error,
            seconds,
        )
        if on_retry is not None:
            on_retry(error, seconds)
        return seconds

    retrying = AsyncRetrying(
        stop=stop_after_attempt(limit),
        wait=wait,
        retry=retry_if_exception(lambda exc: isinstance(exc, SessionError) and exc.retryable),
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await connect(
                url,
                headers,
                open_timeout_s=settings.open_timeout_s,
                tries=attempt.retry_state.attempt_number,
                since=started,
            )
    raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover
