"""One accepted websocket on the Manual endpoint (``/stt/websocket``): the client finalizes.

The contract (``protocol.md`` section 5) from the server's side:

1. No ``connected`` event. Parameters that failed validation: ``error`` 400, close 1008.
2. Binary frames are audio, decoded and fed to the recognizer like Auto's. While audio
   arrives, ``{"type": "transcript", "is_final": false, "text": ...}`` interims carry the text
   of the audio since the last finalize, whenever it grows (where Auto sends ``turn.update``).
3. Plain text ``finalize``: the recognizer judges all buffered audio and ends its open turn
   (:meth:`~jobrunner.server.recognizer.Recognition.cut`); no turn detection gates the audio
   (the recognition is opened with ``turns=False``), so every byte reaches a final. One
   ``is_final: true`` transcript with the text since the previous finalize (the *delta*: finals
   concatenated verbatim are the session's transcript), then ``{"type": "flush_done"}``. A
   finalize with no audio since the last one gets no transcript, only ``flush_done``.
4. Plain text ``close`` (or the legacy ``done``): the same flush, then ``{"type": "done"}``,
   then the server closes 1000.
5. Any other text frame, JSON included (``{"type": "finalize"}``): ``error`` 400
   ``invalid_message``, close 1008 (our choice: the service documents plain text only).

Transcripts carry ``request_id``, ``duration`` (seconds of audio since the last finalize),
``language`` (the request's), and on finals ``words`` (``[{"word", "start", "end"}]``, seconds
of the session's audio) when the engine knows them. Faults: those of every session (see
:class:`~jobrunner.server.session.Session`) plus ``no_done`` and ``late_interim``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from jobrunner.protocol.events import TurnEagerEnd, TurnEnd, TurnStart, TurnUpdate
from jobrunner.server.params import ManualRequest, Rejection
from jobrunner.server.pcm import PcmDecoder
from jobrunner.server.recognizer import Recognition
from jobrunner.server.session import CLOSE_NORMAL, Session, Terminated
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import EngineEvent, TurnWords, Word

FINALIZE: Final = "finalize"
CLOSE_COMMANDS: Final = frozenset({"close", "done"})


@dataclass
class Segment:
    """The audio since the last finalize: its ended turns, the open turn, its words."""

    start_s: float
    finals: list[str] = field(default_factory=list)
    open_text: str = ""
    words: list[Word] = field(default_factory=list)
    has_audio: bool = False
    sent: str = ""  # the last interim text sent

    @property
    def text(self) -> str:
        return "".join(self.finals) + self.open_text

    def take(self, events: Sequence[EngineEvent]) -> None:
        for event in events:
            if isinstance(event, TurnStart):
                self.open_text = ""
            elif isinstance(event, TurnUpdate | TurnEagerEnd):
                self.open_text = event.transcript
            elif isinstance(event, TurnWords):
                self.words.extend(event.words)
            elif isinstance(event, TurnEnd):
                self.finals.append(event.transcript)
                self.open_text = ""


class ManualHandler(Session):
    """Runs one Manual connection. Created by the server's handler, used once."""

    async def serve(self) -> None:
        request = self.admission.request
        if not isinstance(request, ManualRequest):
            assert isinstance(request, Rejection)
            self.recorder.bad_request()
            await self.fail(request.status_code, request.message, request.error_code)
        self.language = request.language
        recognition = await self.open_recognition(
            request.sample_rate, TurnParams(), words=True, turns=False
        )
        pcm = PcmDecoder(request.encoding)
        self.segment = Segment(0.0)
        closing = False
        async for message in self.frames():
            if isinstance(message, bytes):
                samples = await self.audio(pcm, message, request.sample_rate)
                self.segment.has_audio = self.segment.has_audio or samples.size > 0
                await self._interim(await self.call(recognition, recognition.feed, samples))
                await self.maybe_fault()
            elif message.strip() == FINALIZE:
                await self._flush(recognition)
                await self._send({"type": "flush_done"})
            elif message.strip() in CLOSE_COMMANDS:
                closing = True
                break
            else:
                self.recorder.bad_request()
                await self.fail(
                    400,
                    "the Manual endpoint takes audio and the plain-text commands 'finalize' and "
                    f"'close' (or 'done'), got {message[:80]!r}",
                    "invalid_message",
                )
        if not closing:
            return  # the client closed the socket without asking for a flush
        await self.maybe_fault(closing=True)
        await self.maybe_slow_drain()
        await self._flush(recognition)
        await self._ending_faults()
        await self._send({"type": "done"})
        await self.close(CLOSE_NORMAL)

    async def _interim(self, events: Sequence[EngineEvent]) -> None:
        segment = self.segment
        segment.take(self.damaged(events))
        text = segment.text
        if text and text != segment.sent:
            segment.sent = text
            await self._send(self._transcript(text, is_final=False))

    async def _flush(self, recognition: Recognition) -> None:
        """Finalize: the recognizer cuts, the segment's text goes out as one final."""
        segment = self.segment
        segment.take(self.damaged(await self.call(recognition, recognition.cut)))
        if segment.has_audio:
            final = self._transcript(segment.text, is_final=True)
            final["words"] = [word.as_json() for word in segment.words]
            await self._send(final)
        self.segment = Segment(self.audio_s)

    async def _ending_faults(self) -> None:
        fault = self.fault
        if fault is None or fault.kind not in ("no_done", "late_interim"):
            return
        self.fired(fault)
        if fault.kind == "late_interim":
            await self._send(self._transcript(" and more", is_final=False))
            return
        await self.wait_closed()  # no ``done``, no close: only the client can end it
        raise Terminated

    def _transcript(self, text: str, *, is_final: bool) -> dict[str, Any]:
        return {
            "type": "transcript",
            "is_final": is_final,
            "text": text,
            "duration": round(self.audio_s - self.segment.start_s, 3),
            "language": self.language,
        }

    async def _send(self, event: dict[str, Any]) -> None:
        if not self.muted:
            event["request_id"] = self.request_id
            await self.send_texts([json.dumps(event, ensure_ascii=False)])


__all__ = ["ManualHandler", "Segment"]
