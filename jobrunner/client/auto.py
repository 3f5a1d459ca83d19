"""One realtime session for one file, no database: audio -> pacer -> socket <-> turn session.

:func:`transcribe_file` streams a file through the Auto endpoint and returns a
:class:`SessionResult`, or raises. Sending and receiving run concurrently from the first byte
(events arrive while audio is still going out). After the last chunk it sends
``{"type": "close"}`` and reads until the *server* closes. A session succeeds only when all
audio was sent, our close was sent, and the server then closed with 1000; anything else is a
failure, never a success with a truncated transcript:

* the server closed (1000) before our close -> :class:`DrainError`;
* the server closed with another code, or the connection dropped -> :class:`ConnectionLostError`;
* an ``error`` event -> :class:`ServerErrorEvent` / :class:`RequestRejectedError` (4xx);
* nothing from the server for ``stall_timeout_s`` after our close -> :class:`StallError`;
* the drain not done ``drain_timeout_s`` after our close -> :class:`DrainError`;
* an open turn with text at the server's close -> :class:`DrainError` (words were lost).

Where timeouts apply, and why only there: while streaming, silence legitimately produces no
events for as long as it lasts, so "no event" proves nothing then; a dead peer is noticed by
the websocket keepalive (ping every 20 s, 20 s timeout -> connection lost). The handshake is
bounded by ``open_timeout_s``. After our close the server owes us the rest of the turns and its
close, so the stall and drain timeouts run from there. They are measured on the event loop's
clock; the injected ``clock`` only times the pacing and the turns.

Every failure carries :class:`SessionFacts` (``exc.facts``): audio seconds sent, request id,
close code, connect tries, so the attempt row records what the failed attempt did. Partial
turns of a failed session are only counted, never returned: a retry is a new session.
``cancel_event`` stops a session from outside (job cancelled, shutdown): the socket is closed
with 1001 and :class:`SessionCancelled` is raised.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from jobrunner.audio.stream import WirePlan, iter_chunks, plan_stream
from jobrunner.client.pacer import Pacer, PacingStats
from jobrunner.client.transport import OnRetry, Transport, connect_with_retry
from jobrunner.config import Settings
from jobrunner.errors import (
    ConnectionLostError,
    DrainError,
    ProtocolViolationError,
    SessionCancelled,
    SessionError,
    SessionFacts,
    StallError,
)
from jobrunner.protocol.events import CLOSE_MESSAGE, ErrorEvent, ServerEvent, parse_server_event
from jobrunner.protocol.handshake import StreamParams, build_headers, build_url
from jobrunner.protocol.turns import Turn, TurnSession

logger = logging.getLogger(__name__)

#: audio bytes read per trip to a worker thread (file reads stay off the event loop). A batch is
#: read while the one before it is sent, so a slow trip (busy thread pool, cold disk) does not
#: make chunks late. 128 KiB is 4 s of 16 kHz PCM16: at 1,000 sessions, 250 thread trips a
#: second, where one trip per second per session (ten 100 ms chunks) cost 40 % of the client's
#: CPU in thread hand-offs (bench/). Memory: two batches per session.
READ_BATCH_BYTES: Final = 128 * 1024
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
INTERNAL_ERROR: Final = 1011

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_pace_warned = False


@dataclass(frozen=True)
class LiveEvent:
    """What :func:`transcribe_file` reports for each server event, as it arrives.

    ``turn_index`` is the turn the event belongs to (``None`` outside turns), ``state`` the
    turn state after it, ``text`` the turn's cumulative text (its final text on ``turn.end``).
    """

    event: ServerEvent
    audio_s: float
    elapsed_s: float
    turn_index: int | None
    state: str
    text: str


OnEvent = Callable[[LiveEvent], None]


@dataclass(frozen=True)
class SessionResult:
    """A successful session: transcript, turns and how the session went."""

    request_id: str | None
    transcript: str
    """``turn.end`` texts concatenated verbatim (no strip, no separator)."""
    turns: tuple[Turn, ...]
    plan: WirePlan
    audio_s_sent: float
    pacing: PacingStats
    connect_s: float
    connect_tries: int
    drain_s: float
    """From our close to the server's close."""
    close_code: int
    close_sent: bool
    drained: bool
    unknown_events: int
    started_at: datetime
    ended_at: datetime


def _warn_pace(pace: float) -> None:
    global _pace_warned
    if pace > 1.0 and not _pace_warned:
        _pace_warned = True
        logger.warning(
            "streaming at %.3gx realtime: the real service may overload and fail sessions "
            "(use pace 1.0 against api.cartesia.ai)",
            pace,
        )


def _take(chunks: Iterator[bytes], n: int) -> list[bytes]:
    batch: list[bytes] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) == n:
            break
    return batch


class _Session:
    """The state of one :func:`transcribe_file` call (not reusable)."""

    def __init__(
        self,
        path: str,
        settings: Settings,
        plan: WirePlan,
        *,
        on_event: OnEvent | None,
        clock: Clock,
        sleep: Sleep,
        on_connect_retry: OnRetry | None = None,
    ) -> None:
        self.path = path
        self.on_connect_retry = on_connect_retry
        self.settings = settings
        self.plan = plan
        self.on_event = on_event
        self.clock = clock
        self.sleep = sleep
        self.session = TurnSession()
        self.pacer = Pacer(settings.pace)
        self.transport: Transport | None = None
        self.started_at = datetime.now(UTC)
        self.bytes_sent = 0
        self.close_sent = False
        self.close_sent_at: float | None = None  # event-loop time
        self.last_event_at: float | None = None  # event-loop time
        self.closed_at: float | None = None  # event-loop time
        self.server_close_code: int | None = None  # None: we closed first (or never connected)
        self.streaming_at = 0.0
        self.recv_scope: anyio.CancelScope | None = None
        # the first failure; raised after the task groups have ended (so never wrapped in an
        # ExceptionGroup). Not only JobrunnerError: a bug or an on_event error surfaces as is.
        self.failure: Exception | None = None

    @property
    def audio_s_sent(self) -> float:
        return self.bytes_sent / self.plan.bytes_per_second

    def facts(self, connect: SessionFacts | None = None) -> SessionFacts:
        """What the session got done; ``connect``: the connect phase's facts when it failed."""
        transport = self.transport
        connect_s: float | None
        if transport is not None:
            tries, connect_s = transport.connect_tries, transport.connect_s
        elif connect is not None:
            tries, connect_s = connect.connect_tries, connect.connect_s
        else:
            tries, connect_s = 0, None
        return SessionFacts(
            request_id=self.session.request_id,
            connect_tries=tries,
            connect_s=connect_s,
            audio_s_sent=self.audio_s_sent,
            close_sent=self.close_sent,
            close_code=self.server_close_code,
            drained=False,
            turns_discarded=len(self.session.turns),
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
        )

    def _fail(self, exc: Exception) -> None:
        if self.failure is None:
            self.failure = exc

    # --- sending ------------------------------------------------------------------------

    async def _sleep_until(self, due: float) -> None:
        delay = due - self.clock()
        if delay > 0:
            await self.sleep(delay)
        else:
            await anyio.lowlevel.checkpoint()  # late: catch up, but let the receiver run

    async def _read_all(
        self, batches: MemoryObjectSendStream[list[bytes]], scope: anyio.CancelScope
    ) -> None:
        """Read the file in a worker thread, one batch ahead of :meth:`_send_all`."""
        chunks: Generator[bytes, None, None] = iter_chunks(
            self.path, self.plan, self.settings.chunk_ms
        )
        chunk_bytes = self.plan.chunk_frames(self.settings.chunk_ms) * self.plan.bytes_per_sample
        per_batch = max(1, READ_BATCH_BYTES // chunk_bytes)
        try:
            async with batches:
                while batch := await anyio.to_thread.run_sync(_take, chunks, per_batch):
                    await batches.send(batch)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the sender has stopped (connection lost): nothing more to read for
        except Exception as exc:  # AudioError mid-stream
            self._fail(exc)
            scope.cancel()
        finally:
            chunks.close()

    async def _send_all(
        self,
        transport: Transport,
        batches: MemoryObjectReceiveStream[list[bytes]],
        scope: anyio.CancelScope,
    ) -> None:
        bps = self.plan.bytes_per_second
        started = False
        try:
            async for batch in batches:
                if not started:  # the clock starts with audio in hand: chunk 0 is never late
                    self.pacer.start(self.clock())
                    started = True
                for chunk in batch:
                    offset = self.bytes_sent / bps
                    await self._sleep_until(self.pacer.due(offset))
                    await transport.send(chunk)
                    self.bytes_sent += len(chunk)
                    self.pacer.sent(offset, len(chunk) / bps, self.clock())
            if not started:
                self.pacer.start(self.clock())
            await self._sleep_until(self.pacer.close_due())
            await transport.send(CLOSE_MESSAGE)
            self.pacer.closed(self.clock())
            self.close_sent = True
            self.close_sent_at = anyio.current_time()
            if self.recv_scope is not None:
                self.recv_scope.deadline = self._receive_deadline()
        except ConnectionLostError:
            return  # the receiver sees the close too and knows better why it happened
        except Exception as exc:
            self._fail(exc)
            scope.cancel()
        finally:
            batches.close()

    # --- receiving ----------------------------------------------------------------------

    def _receive_deadline(self) -> float:
        if self.close_sent_at is None:
            return math.inf
        quiet_since = max(self.close_sent_at, self.last_event_at or 0.0)
        return min(
            quiet_since + self.settings.stall_timeout_s,
            self.close_sent_at + self.settings.drain_timeout_s,
        )

    def _timed_out(self) -> SessionError:
        assert self.close_sent_at is not None
        now = anyio.current_time()
        sent = f"{self.audio_s_sent:.1f} s of audio sent"
        if now >= self.close_sent_at + self.settings.drain_timeout_s:
            return DrainError(
                f"drain not finished {self.settings.drain_timeout_s:g} s after our close "
                f"({sent}, {len(self.session.turns)} turns so far)",
                request_id=self.session.request_id,
            )
        return StallError(
            f"server silent for {self.settings.stall_timeout_s:g} s after our close ({sent})",
            request_id=self.session.request_id,
        )

    def _handle(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            raise ProtocolViolationError(
                f"server sent a {len(frame)}-byte binary frame on a text-only endpoint",
                request_id=self.session.request_id,
            )
        event = parse_server_event(frame)
        audio_s, at = self.audio_s_sent, self.clock()
        if isinstance(event, ErrorEvent):
            self._report(event, audio_s, at)  # shown before it ends the session
        turn = self.session.receive(event, audio_s=audio_s, at=at)
        if not isinstance(event, ErrorEvent):
            self._report(event, audio_s, at, turn)

    def _report(
        self, event: ServerEvent, audio_s: float, at: float, turn: Turn | None = None
    ) -> None:
        if self.on_event is None:
            return
        session = self.session
        current = turn or session.open_turn
        self.on_event(
            LiveEvent(
                event=event,
                audio_s=audio_s,
                elapsed_s=at - self.streaming_at,
                turn_index=current.index if current is not None else None,
                state=session.state.value,
                text=turn.transcript if turn is not None else session.current_text,
            )
        )

    async def _receive_all(self, transport: Transport) -> None:
        while True:
            with anyio.CancelScope(deadline=self._receive_deadline()) as scope:
                self.recv_scope = scope
                frame = await transport.receive()
            self.recv_scope = None
            if scope.cancelled_caught:
                raise self._timed_out()
            if frame is None:
                self.closed_at = anyio.current_time()
                self.server_close_code = transport.close_code
                self._judge_close(transport)
                return
            if self.close_sent_at is not None:
                self.last_event_at = anyio.current_time()
            self._handle(frame)

    def _judge_close(self, transport: Transport) -> None:
        code, reason = transport.close_code, transport.close_reason
        why = f"close code {code}{f' ({reason})' if reason else ''}"
        sent = f"{self.audio_s_sent:.1f} of {self.plan.duration_s:.1f} s of audio sent"
        rid = self.session.request_id
        if code == NORMAL_CLOSURE and self.close_sent:
            self.session.finish()  # DrainError if a turn with text was left open
            return
        if code == NORMAL_CLOSURE:
            raise DrainError(
                f"server closed the session ({why}) before our close; {sent}",
                close_code=code,
                request_id=rid,
            )
        raise ConnectionLostError(
            f"connection lost: {why}, {'after' if self.close_sent else 'before'} our close; {sent}",
            close_code=code,
            request_id=rid,
        )

    # --- the session ----------------------------------------------------------------------

    async def _stream(self, transport: Transport) -> None:
        self.streaming_at = self.clock()
        send_batches, receive_batches = anyio.create_memory_object_stream[list[bytes]](0)
        with send_batches, receive_batches:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read_all, send_batches, tg.cancel_scope)
                tg.start_soon(self._send_all, transport, receive_batches, tg.cancel_scope)
                try:
                    await self._receive_all(transport)
                except Exception as exc:
                    self._fail(exc)
                finally:
                    tg.cancel_scope.cancel()

    async def run(self, cancel_event: anyio.Event | None) -> SessionResult:
        cancelled = False

        async def watch(scope: anyio.CancelScope) -> None:
            nonlocal cancelled
            assert cancel_event is not None
            await cancel_event.wait()
            cancelled = True
            scope.cancel()

        url = build_url(self.settings.base_url, self._params())
        headers = build_headers(self.settings.api_key, self.settings.cartesia_version)
        async with anyio.create_task_group() as tg:
            if cancel_event is not None:
                tg.start_soon(watch, tg.cancel_scope)
            try:
                self.transport = await connect_with_retry(
                    url, headers, self.settings, sleep=self.sleep, on_retry=self.on_connect_retry
                )
                try:
                    await self._stream(self.transport)
                finally:
                    code = GOING_AWAY if cancelled else INTERNAL_ERROR
                    await self.transport.close(NORMAL_CLOSURE if self._succeeded() else code)
            except Exception as exc:  # connect phase (the session's own are recorded already)
                self._fail(exc)
            finally:
                tg.cancel_scope.cancel()
        if cancelled and not self._succeeded():
            self.failure = SessionCancelled(
                f"session cancelled after {self.audio_s_sent:.1f} s of audio",
                close_code=self.server_close_code,
                request_id=self.session.request_id,
            )
        if self.failure is not None:
            failure = self.failure
            if not isinstance(failure, SessionError):
                raise failure
            connect = failure.facts if self.transport is None else None
            facts = self.facts(connect)
            raise failure.with_facts(facts, request_id=self.session.request_id) from failure
        return self._result()

    def _succeeded(self) -> bool:
        return (
            self.failure is None
            and self.close_sent
            and self.transport is not None
            and self.transport.close_code == NORMAL_CLOSURE
            and self.closed_at is not None
        )

    def _params(self) -> StreamParams:
        return StreamParams.from_settings(
            self.settings, encoding=self.plan.encoding, sample_rate=self.plan.sample_rate
        )

    def _result(self) -> SessionResult:
        transport = self.transport
        assert transport is not None and transport.close_code is not None
        assert self.close_sent_at is not None and self.closed_at is not None
        return SessionResult(
            request_id=self.session.request_id,
            transcript=self.session.transcript,
            turns=tuple(self.session.turns),
            plan=self.plan,
            audio_s_sent=self.audio_s_sent,
            pacing=self.pacer.stats(),
            connect_s=transport.connect_s,
            connect_tries=transport.connect_tries,
            drain_s=self.closed_at - self.close_sent_at,
            close_code=transport.close_code,
            close_sent=self.close_sent,
            drained=True,
            unknown_events=self.session.unknown_count,
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
        )


async def transcribe_file(
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    on_event: OnEvent | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = anyio.sleep,
    cancel_event: anyio.Event | None = None,
    on_connect_retry: OnRetry | None = None,
) -> SessionResult:
    """Stream ``path`` through one realtime session and return its turns and timings.

    Raises :class:`AudioError` (the file cannot be streamed), :class:`ConfigError` (settings
    the handshake cannot carry), or a :class:`SessionError` subclass with ``facts`` attached;
    :class:`SessionCancelled` when ``cancel_event`` was set first. ``on_event`` is called in
    the receive loop for every server event, so it must not block. ``clock``/``sleep`` drive
    the pacing (and the connect backoff) and are injectable for tests. ``on_connect_retry``
    hears of each connect try that failed and will be retried (error, seconds to wait).
    """
    name = os.fspath(path)
    _warn_pace(settings.pace)
    plan = await anyio.to_thread.run_sync(plan_stream, name, settings)
    run = _Session(
        name,
        settings,
        plan,
        on_event=on_event,
        clock=clock,
        sleep=sleep,
        on_connect_retry=on_connect_retry,
    )
    return await run.run(cancel_event)
