"""The whisper recognizer (``--engine whisper``): options, and the models loaded at start-up."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from jobrunner.errors import ConfigError
from jobrunner.server.silero import INSTALL_HINT, VAD_RATE, shared_model
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.whisper.decoder import DecoderOptions, shared_decoder, weights_dir
from jobrunner.server.whisper.recognition import RecognitionOptions, WhisperRecognition


class WhisperRecognizer:
    """``get_recognizer("whisper", beam_size=..., partial_interval_s=..., ...)``.

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
        self.options = RecognitionOptions(
            beam_size=beam_size,
            partial_samples=round(partial_interval_s * VAD_RATE),
            inline_partials=inline_partials,
        )
        folder = Path(model_dir) if model_dir is not None else weights_dir()
        self.decoder = shared_decoder(
            DecoderOptions(model_dir=str(folder), cpu_threads=cpu_threads, workers=workers)
        )
        shared_model()

    def open(
        self, sample_rate: int, turn: TurnParams, *, words: bool = False, turns: bool = True
    ) -> WhisperRecognition:
        return WhisperRecognition(
            self.options, self.decoder, sample_rate, turn, words=words, turns=turns
        )


__all__ = ["WhisperRecognizer"]
