"""What every websocket session of the local server shares, Auto and Manual alike.

A :class:`Session` owns one accepted aiohttp websocket: it reads the client's frames, sends
text frames, ends the session with an ``error`` event and a close code, and fires the
injected fault chosen for it (drops, error events, stalls) once its audio position is
reached. The endpoints differ only in what they do with frames and events
(:mod:`~jobrunner.server.connection` for Auto, :mod:`~jobrunner.server.manual` for Manual).

Close codes after an ``error`` event: 1008 (policy violation) for 4xx, the client's fault,
and 1011 (internal error) for 5xx, which the official SDK and our client treat as retryable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from asyncio import Transport
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, NoReturn, TypeVar

from aiohttp import WSMsgType, web

from jobrunner.protocol.events import ErrorEvent, encode_server_event
from jobrunner.server.damage import TurnDamage
from jobrunner.server.faults import SILENT_KINDS, Fault
from jobrunner.server.params import ManualRequest, Rejection, SessionRequest
from jobrunner.server.pcm import PcmDecoder
from jobrunner.server.recognizer import Float32Array, Recognition, Recognizer
from jobrunner.server.recorder import Recorder
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import EngineEvent

log = logging.getLogger(__name__)

CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008
CLOSE_INTERNAL: Final = 1011

_T = TypeVar("_T")


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


def recognizer_threads() -> ThreadPoolExecutor:
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
    request: SessionRequest | ManualRequest | Rejection
    fault: Fault | None = None


@dataclass(frozen=True)
class Limits:
    max_rate: float = 1.25
    burst_s: float = 1.5


class Terminated(Exception):
    """The session ended early (error sent, socket dropped); nothing more to do."""


class Session:
    """One accepted websocket. Subclasses implement :meth:`serve`; used once via :meth:`run`."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: Transport | None,
        admission: Admission,
        recognizer: Recognizer,
        limits: Limits,
        recorder: Recorder,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.admission = admission
        self.recognizer = recognizer
        self.limits = limits
        self.recorder = recorder
        self.clock = clock
        self.request_id = admission.request_id
        self.audio_s = 0.0
        self.guard = RateGuard(limits.max_rate, limits.burst_s)
        self.muted = False  # a ``stall`` fired: nothing more goes out
        self.fault = admission.fault
        self.damage: TurnDamage | None = None
        if self.fault is not None and self.fault.kind in SILENT_KINDS:
            self.damage, self.fault = TurnDamage(self.fault), None

    async def run(self) -> None:
        try:
            await self.serve()
        except (Terminated, ConnectionError):
            return

    async def serve(self) -> None:
        raise NotImplementedError

    # --- reading ------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[bytes | str]:
        """The client's data frames until it closes (pings are answered by aiohttp)."""
        async for message in self.ws:
            if message.type is WSMsgType.BINARY:
                yield bytes(message.data)
            elif message.type is WSMsgType.TEXT:
                yield str(message.data)
            elif message.type is WSMsgType.ERROR:  # e.g. a frame over the size limit
                raise Terminated

    async def wait_closed(self) -> None:
        """Read and drop frames until the client closes or goes away."""
        with contextlib.suppress(ConnectionError):
            async for _ in self.frames():
                pass

    async def audio(self, pcm: PcmDecoder, frame: bytes, sample_rate: int) -> Float32Array:
        """Decode a binary frame and count its audio; too fast a client is an overload."""
        samples = pcm.feed(frame)
        seconds = len(samples) / sample_rate
        self.audio_s += seconds
        self.recorder.audio(seconds)
        if self.guard.add(seconds, self.clock()):
            await self._fail_overload()
        return samples

    async def _fail_overload(self) -> NoReturn:
        self.recorder.overload()
        await self.fail(
            500,
            f"audio arrived faster than {self.limits.max_rate:g}x realtime; "
            "send about one second of audio per second",
            "overloaded",
        )

    # --- the recognizer -----------------------------------------------------------------

    async def open_recognition(
        self, sample_rate: int, turn: TurnParams, *, words: bool = False, turns: bool = True
    ) -> Recognition:
        try:
            return self.recognizer.open(sample_rate, turn, words=words, turns=turns)
        except Exception:
            log.exception("engine %s could not open a session", self.recognizer.name)
            await self.fail(500, "the recognizer is unavailable", "engine_error")

    async def call(self, recognition: Recognition, fn: Callable[..., _T], *args: object) -> _T:
        """``fn(*args)``, in a worker thread when the recognition blocks; errors end the session."""
        try:
            if recognition.blocking:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(recognizer_threads(), fn, *args)
            return fn(*args)
        except Exception:
            log.exception("engine %s failed (request %s)", self.recognizer.name, self.request_id)
            await self.fail(500, "the recognizer failed on this audio", "engine_error")

    # --- faults -------------------------------------------------------------------------

    async def maybe_fault(self, *, closing: bool = False) -> None:
        """Fire a pending drop/error/stall once its audio position (or the close) is reached."""
        fault = self.fault
        if fault is None or fault.kind not in ("drop", "error", "stall"):
            return
        if not (closing or (fault.at_s is not None and self.audio_s >= fault.at_s)):
            return
        if fault.kind == "stall":
            if not self.muted:
                self.muted = True
                self.fired(fault)
            if closing:
                await self.wait_closed()  # never answer; the client must give up
                raise Terminated
            return
        self.fired(fault)
        if fault.kind == "drop":
            self.drop()
        assert fault.status is not None
        await self.fail(fault.status, f"injected fault: {fault.label}", "injected_fault")

    async def maybe_slow_drain(self) -> None:
        """The ``slow_drain`` fault: wait its delay after the client's close (unless it leaves)."""
        if self.fault is None or self.fault.kind != "slow_drain":
            return
        self.fired(self.fault)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_closed(), self.fault.delay_s)
            raise Terminated

    def damaged(self, events: Sequence[EngineEvent]) -> list[EngineEvent]:
        """``events`` after the session's silent damage, if any."""
        if self.damage is None:
            return list(events)
        fired = self.damage.fired
        out = self.damage.apply(events, self.audio_s)
        if self.damage.fired and not fired:
            self.fired(self.damage.fault)
        return out

    def fired(self, fault: Fault) -> None:
        log.info("fault %s injected (request %s)", fault.label, self.request_id)
        self.recorder.fault(fault.label)

    def drop(self) -> NoReturn:
        """An abrupt TCP close: no close frame, the client sees 1006."""
        if self.transport is not None:
            self.transport.abort()
        raise Terminated

    # --- writing ------------------------------------------------------------------------

    async def send_texts(self, texts: Sequence[str]) -> None:
        for text in texts:
            await self.ws.send_str(text)
        self.recorder.events(len(texts))

    async def fail(self, status: int, message: str, error_code: str) -> NoReturn:
        """Send an ``error`` event and close: 1008 for 4xx, 1011 for 5xx."""
        title = status_phrase(status)
        event = ErrorEvent(
            message=message,
            status_code=status,
            title=title,
            error_code=error_code,
            request_id=self.request_id,
        )
        with contextlib.suppress(ConnectionError):
            await self.ws.send_str(encode_server_event(event))
            self.recorder.events(1)
        await self.close(CLOSE_INTERNAL if status >= 500 else CLOSE_POLICY, title)
        raise Terminated

    async def close(self, code: int, reason: str = "") -> None:
        """Close; aiohttp reads (and drops) what the client still sends until its close."""
        self.recorder.closed_with(code)
        with contextlib.suppress(ConnectionError):
            await self.ws.close(code=code, message=reason.encode())


__all__ = [
    "CLOSE_INTERNAL",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "Admission",
    "Limits",
    "RateGuard",
    "Session",
    "Terminated",
    "recognizer_threads",
    "status_phrase",
]
