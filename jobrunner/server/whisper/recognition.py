"""One connection's whisper recognition: VAD turns, partial and final text, the service's spacing.

A recognition resamples the wire audio to 16 kHz once (soxr), scores 32 ms frames with silero
and lets the shared :class:`~jobrunner.server.turn_detector.TurnDetector` place the turns. Text:

- ``turn.eager_end`` / ``turn.end``: whisper decodes the turn's audio (pre-roll to the last
  speech frame plus a short post-roll), in the calling thread (recognitions are ``blocking``).
  An ``end`` that follows an ``eager_end`` without a resume reuses that decode, so the final is
  ready as soon as the silence is long enough.
- ``turn.update`` (partials): re-decoding every open turn every second would starve the finals
  of other sessions, so a recognition asks the decoder's background lane for one every
  ``partial_interval_s`` of new turn audio, and sends the result with the next audio if the
  lane took the request. A word is sent once two consecutive partials agree on it (the last,
  possibly cut word never).
- Text is never revised, only extended (the wire contract). A final is decoded freely and
  kept when it extends what partials already sent (word-wise, ignoring case and punctuation);
  otherwise it is decoded again with the sent text forced as whisper's prefix.

Without turn detection (``turns=False``, Manual) the client's cuts are the turns: a turn opens
at the first speech frame after a cut, however short the speech, and is decoded at the next
cut from that frame's pre-roll to the last speech frame's post-roll; no audio is dropped
before then. Only silence at a segment's edges is left out (whisper invents words on it).

Spacing follows the service: a turn's text starts with one space when an earlier turn of the
session had text, so the verbatim concatenation of ``turn.end`` texts reads naturally.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
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
from jobrunner.server.silero import FRAME_SAMPLES, VAD_RATE, Float32Array, To16k, shared_model
from jobrunner.server.transcripts import agreed_prefix, merge
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams
from jobrunner.server.whisper.decoder import WhisperDecoder
from jobrunner.server.words import EngineEvent, TurnWords, Word

log = logging.getLogger(__name__)

POSTROLL_MS: Final = 200.0
"""Audio kept after the last speech frame: word tails often score below the VAD threshold."""
MAX_PARTIAL_S: Final = 28.0
"""No partials for longer turns: past one 30 s whisper window each would cost several decodes."""


@dataclass(frozen=True)
class RecognitionOptions:
    """The recognizer's choices that every recognition follows (see ``WhisperRecognizer``)."""

    beam_size: int = 5
    partial_samples: int = 0
    """New turn audio (16 kHz samples) between partial requests; 0: no partials."""
    inline_partials: bool = False


class _TurnAudio:
    """16 kHz audio of one stream, indexed by absolute sample; old samples are dropped."""

    def __init__(self) -> None:
        self._chunks: list[Float32Array] = []
        self.start = 0  # absolute index of the first kept sample
        self.end = 0  # absolute index after the last sample

    def append(self, samples: Float32Array) -> None:
        if samples.size:
            self._chunks.append(samples)
            self.end += samples.size

    def slice(self, start: int, end: int) -> Float32Array:
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        kept = self._chunks[0]
        return kept[max(0, start - self.start) : max(0, end - self.start)]

    def drop_before(self, position: int) -> None:
        if position <= self.start or not self._chunks:
            return
        kept = self.slice(self.start, self.end)
        cut = min(position - self.start, kept.size)
        self._chunks = [kept[cut:].copy()] if cut < kept.size else []
        self.start += cut


class WhisperRecognition:
    """One connection: resampler, VAD stream, turn detector and the open turn's text."""

    blocking = True

    def __init__(
        self,
        options: RecognitionOptions,
        decoder: WhisperDecoder,
        sample_rate: int,
        turn: TurnParams,
        *,
        words: bool = False,
        turns: bool = True,
    ) -> None:
        self._options = options
        self._turns = turns
        self._cut_at = 0  # turns=False: where the audio since the last cut begins (16 kHz)
        self._position = 0  # 16 kHz samples scored by the VAD so far
        self._speech_end = 0  # turns=False: end of the last speech frame
        self._words = words  # word times wanted (Manual, Batch): TurnWords before turn.end
        self._turn_words: list[Word] = []
        self._decoder = decoder
        self._to16k = To16k(sample_rate)
        self._vad = shared_model().stream()
        self._detector = TurnDetector(DetectorConfig(VAD_RATE, FRAME_SAMPLES), turn)
        self._audio = _TurnAudio()
        self._postroll = round(POSTROLL_MS * VAD_RATE / 1000)
        self._had_text = False  # an earlier turn's text was not empty
        self._open: TurnDecision | None = None  # the open turn's start decision
        self._sent = ""  # text of the open turn already on the wire (no leading space)
        self._eager_end: int | None = None  # speech end decoded at the last eager_end
        self._partial: Future[str] | None = None
        self._partial_at = 0  # audio end of the last partial request
        self._previous = ""  # the last partial hypothesis of the open turn

    # --- Recognition --------------------------------------------------------------------

    def feed(self, samples: Float32Array) -> list[EngineEvent]:
        return self._consume(self._to16k.process(samples))

    def configure(self, request: ConfigRequest) -> None:
        self._detector.configure(request)

    def finish(self) -> list[EngineEvent]:
        events = self._consume(self._to16k.flush())
        if not self._turns:
            return events + self.cut()
        for decision in self._detector.finish():
            events.extend(self._decide(decision))
        return events

    def cut(self) -> list[EngineEvent]:
        """End the open turn at its last speech; the resampler keeps its few samples of
        delay (flushing would end its stream), the VAD and the detector go on."""
        events: list[EngineEvent] = []
        if not self._turns:
            end = self._audio.end
            turn = self._open
            if turn is not None:
                events.extend(self._decide(TurnDecision("end", end, turn.start, self._speech_end)))
            self._cut_at = end
            return events
        for decision in self._detector.finish():
            events.extend(self._decide(decision))
        return events

    # --- internals ----------------------------------------------------------------------

    def _consume(self, audio: Float32Array) -> list[EngineEvent]:
        self._audio.append(audio)
        events = self._collect_partial()
        for prob in self._vad.probabilities(audio):
            if self._turns:
                for decision in self._detector.push(float(prob)):
                    events.extend(self._decide(decision))
                continue
            self._position += FRAME_SAMPLES
            if prob >= self._detector.config.speech_threshold:
                events.extend(self._speech_frame())
        self._request_partial()
        events.extend(self._collect_partial())
        self._audio.drop_before(self._detector.keep_from if self._turns else self._cut_at)
        return events

    def _speech_frame(self) -> list[EngineEvent]:
        """turns=False: a speech frame ends at ``_position``; the first one opens the turn."""
        at = self._speech_end = self._position
        if self._open is not None:
            return []
        preroll = round(self._detector.config.preroll_ms * VAD_RATE / 1000)
        start = max(self._cut_at, at - FRAME_SAMPLES - preroll)
        return self._decide(TurnDecision("start", at, start, at))

    def _decide(self, decision: TurnDecision) -> list[EngineEvent]:
        if decision.kind == "start":
            self._open = decision
            self._sent = self._previous = ""
            self._eager_end = None
            self._partial_at = decision.start
            self._decoder.turn_opened(self)
            return [TurnStart()]
        if decision.kind == "resume":
            self._eager_end = None
            return [TurnResume()]
        self._drop_partial()
        if decision.kind == "eager_end":
            self._sent = self._final_text(decision)
            self._eager_end = decision.end
            return [TurnEagerEnd(transcript=self._spaced(self._sent))]
        if self._eager_end != decision.end:
            self._sent = self._final_text(decision)
        text = self._spaced(self._sent)
        self._had_text = self._had_text or bool(self._sent)
        self._open = None
        self._decoder.turn_closed(self)
        if not self._words:
            return [TurnEnd(transcript=text)]
        return [TurnWords(tuple(self._turn_words)), TurnEnd(transcript=text)]

    def _final_text(self, decision: TurnDecision) -> str:
        end = min(decision.end + self._postroll, self._audio.end)
        audio = self._audio.slice(decision.start, end)
        beam = self._options.beam_size
        decode, offset = self._decoder.decode_words, decision.start / VAD_RATE
        free, words = decode(audio, beam_size=beam, words=self._words)
        merged = merge(self._sent, free)
        if merged is None:
            forced, words = decode(audio, beam_size=beam, prefix=self._sent, words=self._words)
            merged = merge(self._sent, forced)
            if merged is None:  # the forced prefix came back re-tokenised: keep what was sent
                merged = " ".join([self._sent, *forced.split()[len(self._sent.split()) :]])
        self._turn_words = [Word(w.word, w.start + offset, w.end + offset) for w in words]
        return merged

    def _request_partial(self) -> None:
        interval = self._options.partial_samples
        turn = self._open
        if not interval or turn is None or self._partial is not None:
            return
        if self._turns and self._detector.state != "speaking":
            return
        if self._audio.end - self._partial_at < interval:
            return
        if self._audio.end - turn.start > MAX_PARTIAL_S * VAD_RATE:
            return
        self._partial_at = self._audio.end
        audio = self._audio.slice(turn.start, self._audio.end)
        beam = self._options.beam_size
        if self._options.inline_partials:
            self._partial = Future()
            self._partial.set_result(self._decoder.decode(audio, beam_size=beam))
        else:
            self._partial = self._decoder.submit_partial(self, audio, beam_size=beam)

    def _collect_partial(self) -> list[EngineEvent]:
        future = self._partial
        if future is None or not future.done():
            return []
        self._partial = None
        try:
            hypothesis = future.result()
        except Exception:  # a partial is optional; the final decode will report real trouble
            log.exception("partial decode failed")
            return []
        agreed = agreed_prefix(self._previous, hypothesis)
        self._previous = hypothesis
        grown = merge(self._sent, agreed) if agreed else None
        if grown is None or len(grown) <= len(self._sent):
            return []
        self._sent = grown
        return [TurnUpdate(transcript=self._spaced(self._sent))]

    def _drop_partial(self) -> None:
        if self._partial is not None:
            self._partial.cancel()
            self._partial = None

    def _spaced(self, text: str) -> str:
        """The service's spacing: one space before the text of any turn after the first."""
        return " " + text if text and self._had_text else text


__all__ = ["RecognitionOptions", "WhisperRecognition"]
