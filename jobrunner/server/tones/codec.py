"""The tones audio format and its encoder: text in, audio whose tones spell it out.

- Each UTF-8 byte of a turn is one **symbol**: two simultaneous tones, the high nibble picks
  one of 16 low frequencies (500-1437.5 Hz), the low nibble one of 16 high frequencies
  (1900-2837.5 Hz), spaced 62.5 Hz = 1 / 16 ms so neighbours fall on each other's nulls
  over the 16 ms analysis window. A symbol sounds for 20 ms and is followed by 5 ms of
  silence: 40 bytes per second, everything below 3 kHz so 8 kHz audio carries it.
- Every turn opens with a 250 ms **hum** (one 300 Hz tone): it is speech to the voice
  detector, so even a one-letter or empty turn lasts long enough to start a turn at any start
  threshold, but it is no symbol (too long), so it adds no text.
- Between turns ``gap_s`` of silence (0.9 s: longer than the 600 ms end silence); inside a
  turn, parts given as a sequence are separated by ``pause_s`` (0.45 s: longer than the
  342 ms eager-end silence, shorter than the end silence), which gives ``turn.eager_end``
  then ``turn.resume``.

The constants here are the format, shared by the encoder and
:mod:`~jobrunner.server.tones.decoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
TurnSpec = str | Sequence[str]
"""A turn: its text, or its parts with an in-turn pause between consecutive parts."""

SYMBOL_S: Final = 0.020
SYMBOL_GAP_S: Final = 0.005
RAMP_S: Final = 0.0015
WINDOW_S: Final = 0.016
STEP_HZ: Final = 1.0 / WINDOW_S
LOW_HZ: Final = tuple(500.0 + STEP_HZ * i for i in range(16))
HIGH_HZ: Final = tuple(1900.0 + STEP_HZ * i for i in range(16))
HUM_HZ: Final = 300.0
TONE_AMPLITUDE: Final = 0.25
HUM_AMPLITUDE: Final = 0.35


def turn_texts(turns: Sequence[TurnSpec]) -> list[str]:
    """The ``turn.end`` transcripts the engine produces for ``turns``."""
    return [t if isinstance(t, str) else "".join(t) for t in turns]


def _ramped(n: int, sample_rate: int) -> Float32Array:
    envelope = np.ones(n, dtype=np.float32)
    ramp = min(n // 2, max(1, round(RAMP_S * sample_rate)))
    shape = (0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)).astype(np.float32)
    envelope[:ramp] = shape
    envelope[n - ramp :] = shape[::-1]
    return envelope


def _tone(freqs: Sequence[float], amplitude: float, n: int, sample_rate: int) -> Float32Array:
    t = np.arange(n, dtype=np.float64) / sample_rate
    wave = sum(np.sin(2.0 * np.pi * f * t) for f in freqs)
    return (amplitude * np.asarray(wave) * _ramped(n, sample_rate)).astype(np.float32)


def encode_bytes(data: bytes, sample_rate: int = 16000) -> Float32Array:
    """The symbols of ``data``: one 25 ms burst per byte (no hum, no silence around)."""
    on = round(SYMBOL_S * sample_rate)
    gap = np.zeros(round(SYMBOL_GAP_S * sample_rate), dtype=np.float32)
    out: list[Float32Array] = []
    for byte in data:
        out.append(
            _tone((LOW_HZ[byte >> 4], HIGH_HZ[byte & 0x0F]), TONE_AMPLITUDE, on, sample_rate)
        )
        out.append(gap)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def synthesize(
    turns: Sequence[TurnSpec],
    sample_rate: int = 16000,
    *,
    lead_s: float = 0.3,
    gap_s: float = 0.9,
    tail_s: float = 0.9,
    pause_s: float = 0.45,
    hum_s: float = 0.25,
) -> Float32Array:
    """Audio (float32 mono, peak 0.5) whose tones engine transcript is ``turn_texts(turns)``.

    ``tail_s`` below the end silence (0.6 s) leaves the last turn open until the client's
    ``close``. Texts are encoded verbatim: put the leading space of later turns in yourself.
    """

    def silence(seconds: float) -> Float32Array:
        return np.zeros(round(seconds * sample_rate), dtype=np.float32)

    hum_n = round(hum_s * sample_rate)
    gap_after_hum = silence(SYMBOL_GAP_S)
    pieces: list[Float32Array] = [silence(lead_s)]
    for index, turn in enumerate(turns):
        if index:
            pieces.append(silence(gap_s))
        pieces.append(_tone((HUM_HZ,), HUM_AMPLITUDE, hum_n, sample_rate))
        pieces.append(gap_after_hum)
        parts = [turn] if isinstance(turn, str) else list(turn)
        for part_index, part in enumerate(parts):
            if part_index:
                pieces.append(silence(pause_s))
            pieces.append(encode_bytes(part.encode("utf-8"), sample_rate))
    pieces.append(silence(tail_s))
    return np.concatenate(pieces)


def write_wav(
    path: str | Path,
    turns: Sequence[TurnSpec],
    sample_rate: int = 16000,
    *,
    subtype: str = "PCM_16",
    **timing: float,
) -> Path:
    """Write :func:`synthesize` output as a WAV file (any soundfile ``subtype``)."""
    import soundfile

    target = Path(path)
    soundfile.write(target, synthesize(turns, sample_rate, **timing), sample_rate, subtype=subtype)
    return target


__all__ = ["TurnSpec", "encode_bytes", "synthesize", "turn_texts", "write_wav"]
