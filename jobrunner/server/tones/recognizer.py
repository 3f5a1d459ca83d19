"""The tones recognizer (``--engine tones``): decoded symbols become turns of exact text.

Turns come from the shared :class:`~jobrunner.server.turn_detector.TurnDetector` fed with a
10 ms energy gate: the hum and the symbols are speech, the silences between parts and turns
are not. A turn's text is the bytes of the symbols that start inside it, decoded as UTF-8.
Events are a function of the audio alone: a frame is never judged before every symbol that
could start in it has been decoded, so chunk sizes and pacing change nothing. Without turn
detection (``turns=False``, Manual) a turn is open from each cut to the next and takes every
symbol, however short the speech after a finalize.

Word times are cheap here: a word is a run of bytes between spaces (no UTF-8 sequence holds a
space byte), from the start of its first symbol to the end of its last.
"""

from __future__ import annotations

import codecs
from collections import deque
from typing import Final

import numpy as np

from jobrunner.protocol.events import (
    ConfigRequest,
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
)
from jobrunner.server.tones.codec import SYMBOL_S, Float32Array
from jobrunner.server.tones.decoder import Symbol, ToneDecoder
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams
from jobrunner.server.words import EngineEvent, TurnWords, Word

VAD_FRAME_S: Final = 0.010
VAD_THRESHOLD: Final = 0.05
"""RMS over a 10 ms frame above which the frame is speech."""


class ToneRecognizer:
    """``get_recognizer("tones", update_ms=100, blocking=False)``.

    Decoding is cheap enough for the event loop; ``blocking=True`` runs it in worker threads
    like a real recognizer (to exercise that path of the server with exact transcripts).
    """

    name = "tones"

    def __init__(self, update_ms: float = 100.0, blocking: bool = False) -> None:
        self.update_ms = update_ms
        self.blocking = blocking

    def open(
        self, sample_rate: int, turn: TurnParams, *, words: bool = False, turns: bool = True
    ) -> ToneRecognition:
        """A session; word times are always on (they cost nothing here)."""
        recognition = ToneRecognition(sample_rate, turn, update_ms=self.update_ms, turns=turns)
        recognition.blocking = self.blocking
        return recognition


class ToneRecognition:
    """One connection: symbols -> cumulative text, energy gate -> turn decisions."""

    blocking = False

    def __init__(
        self, sample_rate: int, turn: TurnParams, *, update_ms: float = 100.0, turns: bool = True
    ) -> None:
        frame = max(1, round(VAD_FRAME_S * sample_rate))
        self._detector = TurnDetector(DetectorConfig(sample_rate, frame), turn)
        self._turns = turns
        self._position = 0  # samples judged so far
        self._decoder = ToneDecoder(sample_rate)
        self._frame = frame
        self._update_every = round(update_ms * sample_rate / 1000)
        self._audio = np.zeros(0, dtype=np.float32)  # samples not yet judged by the gate
        self._symbols: deque[Symbol] = deque()
        self._in_turn = False
        self._turn_start = 0
        self._text = ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._sent_text = ""
        self._last_update = 0
        self._rate = sample_rate
        self._turn_symbols: list[Symbol] = []  # the open turn's symbols, for word times
        if not turns:
            self._in_turn = True

    def configure(self, request: ConfigRequest) -> None:
        self._detector.configure(request)

    def feed(self, samples: Float32Array) -> list[EngineEvent]:
        self._symbols.extend(self._decoder.feed(samples))
        self._audio = np.concatenate((self._audio, samples.astype(np.float32, copy=False)))
        return self._judge(self._decoder.horizon)

    def finish(self) -> list[EngineEvent]:
        self._symbols.extend(self._decoder.finish())
        events = self._judge(None)
        if not self._turns:
            end = self._position
            events.extend(self._apply(TurnDecision("end", end, self._turn_start, end)))
            self._in_turn, self._turn_start, self._last_update = True, end, end
            return events
        for decision in self._detector.finish():
            events.extend(self._apply(decision))
        return events

    def cut(self) -> list[EngineEvent]:
        """Judge everything fed so far and end the open turn; the decoder and the turn
        detector go on from here (both resume cleanly after their end of audio)."""
        return self.finish()

    def _judge(self, horizon: int | None) -> list[EngineEvent]:
        """Gate every frame that ends before ``horizon`` (None: all audio, partial frame too)."""
        pos = self._position
        available = len(self._audio) if horizon is None else min(len(self._audio), horizon - pos)
        count = max(0, available) // self._frame
        sizes = [self._frame] * count
        if horizon is None and len(self._audio) > count * self._frame:
            sizes.append(len(self._audio) - count * self._frame)  # the last, partial frame
        if not sizes:
            return []
        frames = self._audio[: count * self._frame].reshape(count, self._frame)
        power = np.mean(np.square(frames, dtype=np.float64), axis=1).tolist()
        if len(sizes) > count:
            power.append(float(np.mean(np.square(self._audio[count * self._frame :]))))
        self._audio = self._audio[sum(sizes) :]
        events: list[EngineEvent] = []
        for n, frame_power in zip(sizes, power, strict=True):
            end = pos + n
            if self._in_turn:
                self._take_symbols(end)
            else:
                self._drop_symbols(self._detector.keep_from)
            if self._turns:
                speech = 1.0 if frame_power >= VAD_THRESHOLD**2 else 0.0
                for decision in self._detector.push(speech, n):
                    events.extend(self._apply(decision))
            if self._in_turn and self._text != self._sent_text:
                if end - self._last_update >= self._update_every:
                    self._sent_text = self._text
                    self._last_update = end
                    events.append(TurnUpdate(transcript=self._text))
            pos = self._position = end
        return events

    def _take_symbols(self, before: int) -> None:
        data = bytearray()
        while self._symbols and self._symbols[0].pos < before:
            symbol = self._symbols.popleft()
            if symbol.pos >= self._turn_start:
                data.append(symbol.byte)
                self._turn_symbols.append(symbol)
        if data:
            self._text += self._utf8.decode(bytes(data))

    def _drop_symbols(self, before: int) -> None:
        while self._symbols and self._symbols[0].pos < before:
            self._symbols.popleft()

    def _apply(self, decision: TurnDecision) -> list[EngineEvent]:
        if decision.kind == "start":
            self._in_turn = True
            self._turn_start = decision.start
            self._text = self._sent_text = ""
            self._turn_symbols = []
            self._last_update = decision.at
            self._take_symbols(decision.at)
            return [TurnStart()]
        if decision.kind == "resume":
            return [TurnResume()]
        self._take_symbols(decision.end)
        if decision.kind == "eager_end":
            return [TurnEagerEnd(transcript=self._text)]
        text = self._text + self._utf8.decode(b"", final=True)
        self._utf8.reset()
        self._in_turn = False
        self._text = self._sent_text = ""
        words = TurnWords(tuple(self._words()))
        return [words, TurnEnd(transcript=text)]

    def _words(self) -> list[Word]:
        words: list[Word] = []
        run: list[Symbol] = []
        for symbol in [*self._turn_symbols, Symbol(-1, 0x20)]:
            if symbol.byte != 0x20:
                run.append(symbol)
                continue
            if run:
                text = bytes(s.byte for s in run).decode("utf-8", errors="replace")
                start = run[0].pos / self._rate
                words.append(Word(text, start, run[-1].pos / self._rate + SYMBOL_S))
                run = []
        self._turn_symbols = []
        return words


__all__ = ["ToneRecognition", "ToneRecognizer"]
