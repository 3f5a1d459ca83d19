"""One accepted websocket on the Auto endpoint: audio in, turn events out.

The contract (``protocol.md`` section 4) from the server's side:

1. ``connected`` with the connection's request id, right after the upgrade.
2. A request whose parameters failed validation gets an ``error`` event (400) and close 1008.
3. Binary frames are decoded with the declared encoding and fed to the recognizer; its events go
   out as they come, each stamped with the request id.
4. ``{"type": "config"}`` updates the turn settings (invalid values: 400 + close 1008);
   ``{"type": "close"}`` flushes the recognizer (the open turn ends), then the server closes
   1000. Any other text frame is a 400 error event.
5. Audio arriving faster than ``max_rate`` times realtime beyond ``burst_s`` seconds of slack
   (judged on the total since the first frame, see :class:`RateGuard`) is an overload:
   ``error`` 500, close 1011.

Close codes after an ``error`` event: 1008 (policy violation) for 4xx, the client's fault,
and 1011 (internal error) for 5xx, which the official SDK and our client treat as retryable.
Faults (see :mod:`jobrunner.server.faults`) are injected here, at the points they name.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from jobrunner.errors import ProtocolViolationError
from jobrunner.protocol.events import (
    CloseRequest,
    Connected,
    ErrorEvent,
    ServerEvent,
    encode_server_event,
    parse_client_message,
)
from jobrunner.server.damage import TurnDamage
from jobrunner.server.faults import SILENT_KINDS, Fault
from jobrunner.server.params import Rejection, SessionRequest, check_turn
from jobrunner.server.pcm import PcmDecoder
from jobrunner.server.recognizer import Float32Array, Recognition, Recognizer
from jobrunner.server.recorder import Recorder

log = logging.getLogger(__name__)

CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008
CLOSE_INTERNAL: Final = 1011


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


#: threads for blocking recognizer calls. Not asyncio's default pool (5 + cores threads): with
#: more sessions than that waiting on a recognizer decode, sessions that only need their cheap
#: VAD step would queue behind them. Threads idle cheaply; the recognizer bounds its own decode
#: work.
RECOGNIZER_THREADS: Final = 256
_recognizer_pool: ThreadPoolExecutor | None = None


def _recognizer_threads() -> ThreadPoolExecutor:
    global _recognizer_pool
    if _recognizer_pool is None:
        _recognizer_pool = ThreadPoolExecutor(
            RECOGNIZER_THREADS, thread_name_prefix="jobrunner-recognizer"
        )
    return _recognizer_pool


class RateGuard:
    """Trips when a client has sent more than ``rate`` x realtime plus ``capacity_s`` seconds.

    Judged on the total since the first frame, not frame by frame: when this server stalls
    (a busy recognizer in the same process), frames that arrived on time are read late in a
    burst, and a client whose own loop stalled catches up in a burst too (the pacer does that by
    design). Neither is a fast client, and a per-frame leaky bucket would trip on both.
    ``rate`` 0 disables the check (fast tests push audio as fast as the socket allows).
    """

    def __init__(self, rate: float, capacity_s: float) -> None:
        self.rate = rate
        self.capacity_s = capacity_s
        self.total_s = 0.0
        self._first: float | None = None

    def add(self, seconds: float, now: float) -> bool:
        """Account ``seconds`` of audio read at ``now``; True when the client is too fast."""
        if self.rate <= 0:
            return False
        if self._first is None:
            self._first = now
        self.total_s += seconds
        return self.total_s > (now - self._first) * self.rate + self.capacity_s


@dataclass(frozen=True)
class Admission:
    """What the upgrade decided for a connection it accepted."""

    number: int
    request_id: str
    request: SessionRequest | Rejection
    fault: Fault | None = None


@dataclass(frozen=True)
class Limits:
    max_rate: float = 1.25
    burst_s: float = 1.5


class _Terminated(Exception):
    """The session ended early (error sent, socket dropped); nothing more to do."""


class ConnectionHandler:
    """Runs one connection. Created by the server's handler, used once."""

    def __init__(
        self,
        conn: ServerConnection,
        admission: Admission,
        recognizer: Recognizer,
        limits: Limits,
        recorder: Recorder,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn = conn
        self.admission = admission
        self.recognizer = recognizer
        self.limits = limits
        self.recorder = recorder
        self.clock = clock
        self.request_id = admission.request_id
        self.audio_s = 0.0
        self._muted = False
        self._fault = admission.fault
        self._damage: TurnDamage | None = None
        if self._fault is not None and self._fault.kind in SILENT_KINDS:
            self._damage, self._fault = TurnDamage(self._fault), None

    async def run(self) -> None:
        try:
            await self._send([Connected()])
            request = self.admission.request
            if isinstance(request, Rejection):
                self.recorder.bad_request()
                await self._fail(request.status_code, request.message, request.error_code)
            await self._stream(request)
        except (_Terminated, ConnectionClosed):
            return

    async def _stream(self, request: SessionRequest) -> None:
        try:
            recognition = self.recognizer.open(request.sample_rate, request.turn)
        except Exception:
            log.exception("engine %s could not open a session", self.recognizer.name)
            await self._fail(500, "the recognizer is unavailable", "engine_error")
        turn = request.turn
        pcm = PcmDecoder(request.encoding)
        guard = RateGuard(self.limits.max_rate, self.limits.burst_s)
        closing = False
        async for message in self.conn:
            if isinstance(message, bytes):
                samples = pcm.feed(message)
                seconds = len(samples) / request.sample_rate
                self.audio_s += seconds
                self.recorder.audio(seconds)
                if guard.add(seconds, self.clock()):
                    self.recorder.overload()
                    await self._fail(
                        500,
                        f"audio arrived faster than {self.limits.max_rate:g}x realtime; "
                        "send about one second of audio per second",
                        "overloaded",
                    )
                await self._send(await self._call(recognition, recognition.feed, samples))
                await self._maybe_fault()
                continue
            try:
                command = parse_client_message(message)
            except ProtocolViolationError as exc:
                self.recorder.bad_request()
                await self._fail(400, str(exc), "invalid_message")
            if isinstance(command, CloseRequest):
                closing = True
                break
            turn = turn.merged(command)
            rejected = check_turn(turn)
            if rejected is not None:
                self.recorder.bad_request()
                await self._fail(400, rejected.message, rejected.error_code)
            recognition.configure(command)
        if not closing:
            return  # the client closed the socket without asking for a flush
        await self._maybe_fault(closing=True)
        if self._fault is not None and self._fault.kind == "slow_drain":
            self._fired(self._fault)
            with contextlib.suppress(TimeoutError):  # the delay, unless the client leaves
                await asyncio.wait_for(self.conn.wait_closed(), self._fault.delay_s)
                raise _Terminated
        await self._send(await self._call(recognition, recognition.finish))
        await self._close(CLOSE_NORMAL)

    async def _call(
        self,
        recognition: Recognition,
        fn: Callable[..., list[ServerEvent]],
        *args: Float32Array,
    ) -> list[ServerEvent]:
        try:
            if recognition.blocking:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(_recognizer_threads(), fn, *args)
            return fn(*args)
        except Exception:
            log.exception("engine %s failed (request %s)", self.recognizer.name, self.request_id)
            await self._fail(500, "the recognizer failed on this audio", "engine_error")

    async def _maybe_fault(self, *, closing: bool = False) -> None:
        """Fire a pending drop/error/stall once its audio position (or the close) is reached."""
        fault = self._fault
        if fault is None or fault.kind in ("upgrade", "slow_drain"):
            return
        due = closing or (fault.at_s is not None and self.audio_s >= fault.at_s)
        if not due:
            return
        if fault.kind == "stall":
            if not self._muted:
                self._muted = True
                self._fired(fault)
            if closing:
                await self.conn.wait_closed()  # never answer; the client must give up
                raise _Terminated
            return
        self._fault = None
        self._fired(fault)
        if fault.kind == "drop":
            transport = self.conn.transport
            if transport is not None:
                transport.abort()  # no close frame: the client sees 1006
            raise _Terminated
        assert fault.status is not None
        await self._fail(fault.status, f"injected fault: {fault.label}", "injected_fault")

    def _fired(self, fault: Fault) -> None:
        log.info("fault %s injected (request %s)", fault.label, self.request_id)
        self.recorder.fault(fault.label)

    async def _send(self, events: list[ServerEvent]) -> None:
        if self._damage is not None:
            fired = self._damage.fired
            events = self._damage.apply(events, self.audio_s)
            if self._damage.fired and not fired:
                self._fired(self._damage.fault)
        if self._muted or not events:
            return
        for event in events:
            stamped = dataclasses.replace(event, request_id=self.request_id)
            await self.conn.send(encode_server_event(stamped))
        self.recorder.events(len(events))

    async def _fail(self, status: int, message: str, error_code: str) -> NoReturn:
        """Send an ``error`` event and close: 1008 for 4xx, 1011 for 5xx."""
        title = status_phrase(status)
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send(
                encode_server_event(
                    ErrorEvent(
                        message=message,
                        status_code=status,
                        title=title,
                        error_code=error_code,
                        request_id=self.request_id,
                    )
                )
            )
            self.recorder.events(1)
        await self._close(CLOSE_INTERNAL if status >= 500 else CLOSE_POLICY, title)
        raise _Terminated

    async def _close(self, code: int, reason: str = "") -> None:
        """Close, reading (and dropping) what the client still sends meanwhile.

        A client streaming fast may have frames queued behind its answer to our close frame;
        unread, they would stall the closing handshake until the close timeout.
        """
        self.recorder.closed_with(code)
        discard = asyncio.create_task(self._discard_incoming())
        try:
            await self.conn.close(code, reason)
        finally:
            discard.cancel()

    async def _discard_incoming(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.conn.recv()


__all__ = ["Admission", "ConnectionHandler", "Limits", "RateGuard", "status_phrase"]
