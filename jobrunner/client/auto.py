"""One file through one realtime session of the Auto endpoint, no database.

:func:`transcribe_file` plans the wire format, connects (retrying the connect phase only), and
runs three tasks from the first byte: the read-ahead (:mod:`jobrunner.client.readahead`), the
paced sender (:mod:`jobrunner.client.sender`) and the receive loop here, which feeds every
event to the turn state (:mod:`jobrunner.protocol.turns`). After the last chunk the sender
sends ``{"type": "close"}`` and the loop reads until the *server* closes. What a close, a
silence or a timeout means, and when the session counts as a success, is decided by
:class:`jobrunner.protocol.lifecycle.Lifecycle`; this module only reports times to it and acts
on its answers. The stall and drain deadlines run on the event loop's clock; the injected
``clock`` only times the pacing and the turns.

A failure is raised with :class:`SessionFacts` attached (``exc.facts``: audio seconds sent,
request id, close code, connect tries), so the attempt row records what the failed attempt did;
partial turns of a failed session are only counted, never returned (a retry is a new session).
``cancel_event`` stops a session from outside (job cancelled, shutdown, a watchdog): the socket
is closed with 1001 and :class:`SessionCancelled` is raised.

Before connecting, the file is checked (:mod:`jobrunner.client.source`: there, readable, still
the file that was enqueued) and planned, in a worker thread that is abandoned if the session is
cancelled meanwhile: a file system that hangs never holds a session that was told to stop.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from jobrunner.audio.span import Span
from jobrunner.audio.stream import WirePlan
from jobrunner.client.pacer import Clock, Pacer
from jobrunner.client.readahead import read_ahead
from jobrunner.client.results import LiveEvent, OnEvent, SessionResult
from jobrunner.client.sender import PacedSender, Sink
from jobrunner.client.source import Enqueued, checked_plan, explain
from jobrunner.client.transport import OnRetry, Sleep, Transport, connect_with_retry
from jobrunner.config import Settings
from jobrunner.errors import (
    AudioError,
    ConnectionLostError,
    ProtocolViolationError,
    SessionCancelled,
    SessionError,
    SessionFacts,
)
from jobrunner.protocol.events import ErrorEvent, ServerEvent, parse_server_event
from jobrunner.protocol.handshake import StreamParams, build_headers, build_url
from jobrunner.protocol.lifecycle import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    Lifecycle,
    Progress,
)
from jobrunner.protocol.turns import Turn, TurnSession

logger = logging.getLogger(__name__)

_pace_warned = False


def _warn_pace(pace: float) -> None:
    global _pace_warned
    if pace > 1.0 and not _pace_warned:
        _pace_warned = True
        logger.warning(
            "streaming at %.3gx realtime: the real service may overload and fail sessions "
            "(use pace 1.0 against api.cartesia.ai)",
            pace,
        )


class _Transcription:
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
        enqueued: Enqueued | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.plan = plan
        self.enqueued = enqueued
        self.on_event = on_event
        self.clock = clock
        self.sleep = sleep
        self.on_connect_retry = on_connect_retry
        self.turns = TurnSession()
        self.lifecycle = Lifecycle(
            stall_timeout_s=settings.stall_timeout_s, drain_timeout_s=settings.drain_timeout_s
        )
        # ``Pacer`` is looked up in this module: bench/sessions.py swaps in a recording pacer
        self.pacer = Pacer(settings.pace)
        self.sender = PacedSender(self.pacer, plan.bytes_per_second, clock=clock, sleep=sleep)
        self.transport: Transport | None = None
        self.started_at = datetime.now(UTC)
        self.streaming_at = 0.0
        self.recv_scope: anyio.CancelScope | None = None
        # the first failure; raised after the task groups have ended (so never wrapped in an
        # ExceptionGroup). Not only JobrunnerError: a bug or an on_event error surfaces as is.
        self.failure: Exception | None = None

    def _fail(self, exc: Exception) -> None:
        if self.failure is None:
            self.failure = exc

    def _progress(self) -> Progress:
        return Progress(
            audio_s_sent=self.sender.audio_s_sent,
            duration_s=self.plan.duration_s,
            turns=len(self.turns.turns),
            request_id=self.turns.request_id,
        )

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
            request_id=self.turns.request_id,
            connect_tries=tries,
            connect_s=connect_s,
            audio_s_sent=self.sender.audio_s_sent,
            close_sent=self.lifecycle.close_sent,
            close_code=self.lifecycle.close_code,
            drained=False,
            turns_discarded=len(self.turns.turns),
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
        )

    # --- the outgoing half ----------------------------------------------------------------

    async def _read(self, batches: ObjectSendStream[list[bytes]], scope: anyio.CancelScope) -> None:
        try:
            await read_ahead(self.path, self.plan, self.settings.chunk_ms, batches)
        except AudioError as exc:  # mid-stream: the file went away or changed, or it is broken
            seen = await anyio.to_thread.run_sync(
                explain, self.path, exc, self.enqueued, abandon_on_cancel=True
            )
            self._fail(seen)
            scope.cancel()
        except Exception as exc:
            self._fail(exc)
            scope.cancel()

    async def _send(
        self,
        transport: Sink,
        batches: ObjectReceiveStream[list[bytes]],
        scope: anyio.CancelScope,
    ) -> None:
        try:
            await self.sender.send_all(transport, batches, self._close_sent)
        except ConnectionLostError:
            return  # the receiver sees the close too and knows better why it happened
        except Exception as exc:
            self._fail(exc)
            scope.cancel()

    def _close_sent(self) -> None:
        self.lifecycle.sent_close(anyio.current_time())
        if self.recv_scope is not None:  # the drain deadlines start now
            self.recv_scope.deadline = self.lifecycle.deadline()

    # --- the incoming half ----------------------------------------------------------------

    async def _receive_all(self, transport: Transport) -> None:
        while True:
            with anyio.CancelScope(deadline=self.lifecycle.deadline()) as scope:
                self.recv_scope = scope
                frame = await transport.receive()
            self.recv_scope = None
            now = anyio.current_time()
            if scope.cancelled_caught:
                raise self.lifecycle.timeout_error(now, self._progress())
            if frame is None:
                code = transport.close_code
                self.lifecycle.server_closed(
                    ABNORMAL_CLOSURE if code is None else code, transport.close_reason, now
                )
                self._closed()
                return
            self.lifecycle.received_event(now)
            self._handle(frame)

    def _closed(self) -> None:
        error = self.lifecycle.close_error(self._progress())
        if error is not None:
            raise error
        self.turns.finish(audio_s=self.sender.audio_s_sent, at=self.clock())

    def _handle(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            raise ProtocolViolationError(
                f"server sent a {len(frame)}-byte binary frame on a text-only endpoint",
                request_id=self.turns.request_id,
            )
        event = self._parse(frame)
        audio_s, at = self.sender.audio_s_sent, self.clock()
        if isinstance(event, ErrorEvent):
            self._report(event, audio_s, at)  # shown before it ends the session
        turn = self.turns.receive(event, audio_s=audio_s, at=at)
        if not isinstance(event, ErrorEvent):
            self._report(event, audio_s, at, turn)

    def _parse(self, frame: str) -> ServerEvent:
        return parse_server_event(frame)

    def _report(
        self, event: ServerEvent, audio_s: float, at: float, turn: Turn | None = None
    ) -> None:
        if self.on_event is None:
            return
        turns = self.turns
        current = turn or turns.open_turn
        self.on_event(
            LiveEvent(
                event=event,
                audio_s=audio_s,
                elapsed_s=at - self.streaming_at,
                turn_index=current.index if current is not None else None,
                state=turns.state.value,
                text=turn.transcript if turn is not None else turns.current_text,
            )
        )

    # --- the session ----------------------------------------------------------------------

    async def _stream(self, transport: Transport) -> None:
        self.streaming_at = self.clock()
        send_batches, receive_batches = anyio.create_memory_object_stream[list[bytes]](0)
        with send_batches, receive_batches:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, send_batches, tg.cancel_scope)
                tg.start_soon(self._send, transport, receive_batches, tg.cancel_scope)
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

        url = self._url()
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
                    succeeded = self.lifecycle.succeeded(self.failure)
                    code = GOING_AWAY if cancelled else INTERNAL_ERROR
                    await self.transport.close(NORMAL_CLOSURE if succeeded else code)
            except Exception as exc:  # connect phase (the session's own are recorded already)
                self._fail(exc)
            finally:
                tg.cancel_scope.cancel()
        failure = self.failure
        if cancelled and not self.lifecycle.succeeded(failure):
            raise SessionCancelled(
                f"session cancelled after {self.sender.audio_s_sent:.1f} s of audio",
                close_code=self.lifecycle.close_code,
                request_id=self.turns.request_id,
                facts=self.facts(),
            ) from failure
        if failure is None:
            return self._result()
        if not isinstance(failure, SessionError):
            raise failure
        facts = self.facts(failure.facts if self.transport is None else None)
        raise failure.with_facts(facts, request_id=self.turns.request_id) from failure

    def _url(self) -> str:
        return build_url(self.settings.base_url, self._params())

    def _params(self) -> StreamParams:
        return StreamParams.from_settings(
            self.settings, encoding=self.plan.encoding, sample_rate=self.plan.sample_rate
        )

    def _result(self) -> SessionResult:
        transport, lifecycle = self.transport, self.lifecycle
        assert transport is not None and lifecycle.close_code is not None
        assert lifecycle.drain_s is not None
        return SessionResult(
            request_id=self.turns.request_id,
            transcript=self.turns.transcript,
            turns=tuple(self.turns.turns),
            turns_ended_by_close=self.turns.ended_by_close,
            plan=self.plan,
            audio_s_sent=self.sender.audio_s_sent,
            pacing=self.pacer.stats(),
            connect_s=transport.connect_s,
            connect_tries=transport.connect_tries,
            drain_s=lifecycle.drain_s,
            close_code=lifecycle.close_code,
            close_sent=lifecycle.close_sent,
            drained=lifecycle.drained,
            unknown_events=self.turns.unknown_count,
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
    enqueued: Enqueued | None = None,
    span: Span | None = None,
) -> SessionResult:
    """Stream ``path`` (or its ``span``: a piece of a split job, one time range of one
    channel or the downmix) through one realtime session and return its turns and timings;
    turn times are then seconds into the span.

    Raises :class:`AudioError` (the file cannot be streamed), :class:`FileUnavailableError` /
    :class:`FileChangedError` (missing or unreadable now / not the file that was
    ``enqueued``: no session is opened), :class:`ConfigError` (settings the handshake cannot
    carry), or a :class:`SessionError` subclass with ``facts`` attached;
    :class:`SessionCancelled` when ``cancel_event`` was set first. ``on_event`` is called in
    the receive loop for every server event, so it must not block. ``clock``/``sleep`` drive
    the pacing (and the connect backoff) and are injectable for tests. ``on_connect_retry``
    hears of each connect try that failed and will be retried (error, seconds to wait).
    """
    return await transcribe_with(
        _Transcription,
        path,
        settings,
        on_event=on_event,
        clock=clock,
        sleep=sleep,
        cancel_event=cancel_event,
        on_connect_retry=on_connect_retry,
        enqueued=enqueued,
        span=span,
    )


async def transcribe_with(
    kind: type[_Transcription],
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    cancel_event: anyio.Event | None,
    enqueued: Enqueued | None,
    span: Span | None = None,
    **options: Any,
) -> SessionResult:
    """:func:`transcribe_file` through ``kind``, a session class of an endpoint, with its own
    ``options`` (``client.manual`` passes its finalize points)."""
    name = os.fspath(path)
    _warn_pace(settings.pace)
    plan = await checked_plan(name, settings, enqueued, cancel_event, span)
    transcription = kind(name, settings, plan, enqueued=enqueued, **options)
    return await transcription.run(cancel_event)


__all__ = ["LiveEvent", "OnEvent", "SessionResult", "transcribe_file"]
