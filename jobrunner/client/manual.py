"""One file through one session of the Manual endpoint (``/stt/websocket``), no database.

Everything the Auto client does (the plan, the connect with retries, the read-ahead, the paced
sender, the receive loop, the close and drain judgement of
:class:`~jobrunner.protocol.lifecycle.Lifecycle`) is reused as is: :class:`_ManualTranscription`
changes only what differs on the wire. The URL is the Manual one
(:mod:`jobrunner.protocol.manual`); events go to a
:class:`~jobrunner.protocol.manual_session.ManualSession`; and the frames pass through
:class:`_Finalizer`, which sends the plain-text ``finalize`` before the first chunk at or past
each finalize point and turns the sender's close into the plain-text ``close``.

The finalize points come from the caller, in seconds of audio (:func:`finalize_points`: the end
of each speech segment of the file's speech map plus ``finalize_hangover_ms``, where the silence
after it is long enough). Points past the end of the audio are not sent: the close flushes the
rest. The session succeeds when ``done`` came after our close and the server then closed
normally; a ``done`` that never comes is the drain timeout's :class:`DrainError`, retryable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import anyio

from jobrunner.audio.span import Span
from jobrunner.audio.stream import WirePlan
from jobrunner.audio.vad import Segment
from jobrunner.client.auto import _Transcription, transcribe_with
from jobrunner.client.pacer import Clock
from jobrunner.client.results import OnEvent, SessionResult
from jobrunner.client.sender import Sink
from jobrunner.client.source import Enqueued
from jobrunner.client.transport import OnRetry, Sleep
from jobrunner.config import Settings
from jobrunner.protocol.events import CLOSE_MESSAGE, ServerEvent
from jobrunner.protocol.handshake import build_url
from jobrunner.protocol.manual import CLOSE, FINALIZE, MANUAL_PATH, ManualParams, parse_manual_event
from jobrunner.protocol.manual_session import ManualSession

#: silence a finalize leaves before the next segment's onset, at least (the onset's error)
GUARD_S = 0.1
#: a point this close below a chunk's start counts as reached (float sums of chunk lengths)
_EPSILON_S = 1e-6


def finalize_points(segments: Sequence[Segment], hangover_ms: int) -> list[float]:
    """When to send ``finalize``, in seconds of audio: each segment's end plus the hangover.

    A segment followed by the next one sooner than the hangover plus :data:`GUARD_S` gets no
    finalize of its own (the two are one turn): a finalize near the next onset could cut its
    first sounds off, and the detector's onsets are only that exact."""
    hangover = hangover_ms / 1000
    points: list[float] = []
    for i, segment in enumerate(segments):
        point = segment.end_s + hangover
        if i + 1 < len(segments) and segments[i + 1].start_s < point + GUARD_S:
            continue
        points.append(point)
    return points


class _Finalizer:
    """The sender's sink on the Manual endpoint: ``finalize`` at the points, plain ``close``."""

    def __init__(
        self, sink: Sink, points: Sequence[float], bytes_per_second: int, session: ManualSession
    ) -> None:
        self.sink = sink
        self.points = list(points)
        self.bytes_per_second = bytes_per_second
        self.session = session
        self.bytes_sent = 0

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, bytes):
            offset = self.bytes_sent / self.bytes_per_second
            reached = 0
            while reached < len(self.points) and offset >= self.points[reached] - _EPSILON_S:
                reached += 1
            if reached:  # points closer than a chunk: one finalize covers them all
                del self.points[:reached]
                await self.sink.send(FINALIZE)
                self.session.finalize_sent()
            await self.sink.send(data)
            self.bytes_sent += len(data)
        elif data == CLOSE_MESSAGE:
            await self.sink.send(CLOSE)
            self.session.close_sent()
        else:  # pragma: no cover - the sender sends nothing else
            await self.sink.send(data)


class _ManualTranscription(_Transcription):
    def __init__(
        self,
        path: str,
        settings: Settings,
        plan: WirePlan,
        *,
        points: Sequence[float],
        **options: Any,
    ) -> None:
        super().__init__(path, settings, plan, **options)
        self.manual = ManualSession()
        self.turns = self.manual
        self.points = points

    async def _send(
        self,
        transport: Sink,
        batches: anyio.abc.ObjectReceiveStream[list[bytes]],
        scope: anyio.CancelScope,
    ) -> None:
        finalizer = _Finalizer(transport, self.points, self.plan.bytes_per_second, self.manual)
        await super()._send(finalizer, batches, scope)

    def _parse(self, frame: str) -> ServerEvent:
        # a Manual event has the ``type`` and ``request_id`` the session and LiveEvent read;
        # self.turns is the ManualSession, which takes Manual events
        return parse_manual_event(frame)  # type: ignore[return-value]

    def _url(self) -> str:
        params = ManualParams.from_settings(
            self.settings, encoding=self.plan.encoding, sample_rate=self.plan.sample_rate
        )
        return build_url(self.settings.base_url, params, MANUAL_PATH)


async def transcribe_manual(
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    points: Sequence[float] = (),
    on_event: OnEvent | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = anyio.sleep,
    cancel_event: anyio.Event | None = None,
    on_connect_retry: OnRetry | None = None,
    enqueued: Enqueued | None = None,
    span: Span | None = None,
) -> SessionResult:
    """Stream ``path`` (or its ``span``: a piece; ``points`` are then seconds into the span)
    through one Manual session, sending ``finalize`` at ``points`` (seconds
    of audio, ascending; see :func:`finalize_points`), and return its turns: one per finalize
    that produced text, each a :class:`~jobrunner.protocol.manual_session.ManualTurn` with its
    words. Raises as :func:`jobrunner.client.auto.transcribe_file` does."""
    return await transcribe_with(
        _ManualTranscription,
        path,
        settings,
        points=points,
        on_event=on_event,
        clock=clock,
        sleep=sleep,
        cancel_event=cancel_event,
        on_connect_retry=on_connect_retry,
        enqueued=enqueued,
        span=span,
    )


__all__ = ["finalize_points", "transcribe_manual"]
