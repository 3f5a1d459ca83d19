"""A whole recording through a recognizer at once: the Batch endpoint's transcription.

:func:`read_audio` decodes an upload (any container libsndfile reads: WAV, FLAC, OGG, MP3 with
libsndfile >= 1.1, ...; or raw PCM when the request names an ``encoding`` and a
``sample_rate``), downmixes it to mono and brings a rate outside 8-48 kHz to 16 kHz.
:func:`transcribe` feeds it to a fresh recognition in one-second blocks and ends it, as a
session that sent the file and ``close`` would: the text is the ``turn.end`` texts
concatenated verbatim, the words those the engine reported. Both block; the Batch handler
runs them in worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Final

import numpy as np

from jobrunner.protocol.events import TurnEnd
from jobrunner.protocol.limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from jobrunner.server.pcm import decode
from jobrunner.server.recognizer import Float32Array, Recognizer
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import TurnWords, Word

FALLBACK_RATE: Final = 16000
BLOCK_S: Final = 1.0


class UndecodableAudio(Exception):
    """The upload is not audio this server can read."""


@dataclass(frozen=True)
class Audio:
    samples: Float32Array
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]


def read_audio(
    source: IO[bytes], *, encoding: str | None = None, sample_rate: int | None = None
) -> Audio:
    if encoding is not None:
        if sample_rate is None:
            raise UndecodableAudio("raw PCM (encoding=...) needs sample_rate too")
        samples, rate = decode(source.read(), encoding), sample_rate
    else:
        import soundfile

        try:
            data, rate = soundfile.read(source, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise UndecodableAudio(f"cannot decode the file as audio ({exc})") from exc
        samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        import soxr

        samples = soxr.resample(samples, rate, FALLBACK_RATE).astype(np.float32)
        rate = FALLBACK_RATE
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate))


def transcribe(recognizer: Recognizer, audio: Audio) -> Transcript:
    recognition = recognizer.open(audio.sample_rate, TurnParams())
    block = max(1, round(BLOCK_S * audio.sample_rate))
    events = []
    for start in range(0, len(audio.samples), block):
        events.extend(recognition.feed(audio.samples[start : start + block]))
    events.extend(recognition.finish())
    text = "".join(e.transcript for e in events if isinstance(e, TurnEnd))
    words = tuple(w for e in events if isinstance(e, TurnWords) for w in e.words)
    return Transcript(text, words)


__all__ = ["Audio", "Transcript", "UndecodableAudio", "read_audio", "transcribe"]
