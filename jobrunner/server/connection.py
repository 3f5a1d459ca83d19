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

Faults (see :mod:`jobrunner.server.faults`) are injected here, at the points they name; what
every websocket session shares (reading, errors, closing) is :class:`~jobrunner.server.session.
Session`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from jobrunner.errors import ProtocolViolationError
from jobrunner.protocol.events import (
    CloseRequest,
    Connected,
    encode_server_event,
    parse_client_message,
)
from jobrunner.server.params import Rejection, SessionRequest, check_turn
from jobrunner.server.pcm import PcmDecoder
from jobrunner.server.session import (
    CLOSE_NORMAL,
    Admission,
    Limits,
    RateGuard,
    Session,
    status_phrase,
)
from jobrunner.server.words import EngineEvent, TurnWords


class ConnectionHandler(Session):
    """Runs one Auto connection. Created by the server's handler, used once."""

    async def serve(self) -> None:
        await self._send([Connected()])
        request = self.admission.request
        if not isinstance(request, SessionRequest):
            assert isinstance(request, Rejection)
            self.recorder.bad_request()
            await self.fail(request.status_code, request.message, request.error_code)
        await self._stream(request)

    async def _stream(self, request: SessionRequest) -> None:
        recognition = await self.open_recognition(request.sample_rate, request.turn)
        turn = request.turn
        pcm = PcmDecoder(request.encoding)
        closing = False
        async for message in self.frames():
            if isinstance(message, bytes):
                samples = pcm.feed(message)
                seconds = len(samples) / request.sample_rate
                self.account(seconds)
                if self.overloaded(seconds):
                    await self.fail_overload()
                await self._send(await self.call(recognition, recognition.feed, samples))
                await self.maybe_fault()
                continue
            try:
                command = parse_client_message(message)
            except ProtocolViolationError as exc:
                self.recorder.bad_request()
                await self.fail(400, str(exc), "invalid_message")
            if isinstance(command, CloseRequest):
                closing = True
                break
            turn = turn.merged(command)
            rejected = check_turn(turn)
            if rejected is not None:
                self.recorder.bad_request()
                await self.fail(400, rejected.message, rejected.error_code)
            recognition.configure(command)
        if not closing:
            return  # the client closed the socket without asking for a flush
        await self.maybe_fault(closing=True)
        await self.maybe_slow_drain()
        await self._send(await self.call(recognition, recognition.finish))
        await self.close(CLOSE_NORMAL)

    async def _send(self, events: Sequence[EngineEvent]) -> None:
        wire = [e for e in self.damaged(events) if not isinstance(e, TurnWords)]
        if self.muted or not wire:
            return
        await self.send_texts(
            [
                encode_server_event(dataclasses.replace(event, request_id=self.request_id))
                for event in wire
            ]
        )


# re-exported for callers that knew them here
__all__ = ["Admission", "ConnectionHandler", "Limits", "RateGuard", "status_phrase"]
