"""The deterministic "tones" engine: audio that spells its own transcript.

Tests need a recognizer whose output is known exactly, byte for byte, including unicode,
leading spaces and punctuation. So text is *encoded* into audio and the engine decodes it.
Three modules, one role each:

- :mod:`~jobrunner.server.tones.codec`: the audio format (one two-tone symbol per UTF-8 byte,
  a hum per turn, silences between parts and turns) and the encoder that writes it;
- :mod:`~jobrunner.server.tones.decoder`: the streaming symbol decoder (energy envelope, burst
  length, single-bin DFTs), independent of chunking;
- :mod:`~jobrunner.server.tones.recognizer`: the recognizer (``--engine tones``): symbols become
  cumulative text, a 10 ms energy gate feeds the shared turn detector.

Encoder::

    audio = synthesize(["Hello there.", [" How are", " you?"], ""], sample_rate=16000)
    write_wav(path, ["Hello there.", " Bye."])          # PCM_16 WAV via soundfile
    turn_texts([...]) -> ["Hello there.", " How are you?", ""]   # the expected turn.end texts
"""

from __future__ import annotations

from jobrunner.server.tones.codec import TurnSpec, encode_bytes, synthesize, turn_texts, write_wav
from jobrunner.server.tones.decoder import Symbol, ToneDecoder
from jobrunner.server.tones.recognizer import ToneRecognition, ToneRecognizer

__all__ = [
    "Symbol",
    "ToneDecoder",
    "ToneRecognition",
    "ToneRecognizer",
    "TurnSpec",
    "encode_bytes",
    "synthesize",
    "turn_texts",
    "write_wav",
]
