"""The streaming tones decoder: audio in, the bytes its symbols carry out.

Symbols are found from the energy envelope (1 ms hops): a burst as long as a symbol (60-150 %
of :data:`~jobrunner.server.tones.codec.SYMBOL_S`) is one, a shorter click or a longer hum is
none. Its two frequencies are read with single-bin DFTs (Goertzel) over 16 ms at the burst's
centre. It works at whatever rate the session declares, so the same text survives every wire
encoding, resampling to 8/44.1/48 kHz, and any chunking: the output depends on the samples
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from jobrunner.server.tones.codec import HIGH_HZ, LOW_HZ, SYMBOL_S, WINDOW_S, Float32Array

ENVELOPE_THRESHOLD: Final = 0.06
"""RMS over a 1 ms hop above which a tone is sounding."""


@dataclass(frozen=True)
class Symbol:
    """One decoded byte; ``pos`` is the sample where its tone burst began."""

    pos: int
    byte: int


@lru_cache(maxsize=16)
def _dft_matrix(sample_rate: int) -> npt.NDArray[np.float64]:
    """Cosine rows then sine rows of the 32 symbol frequencies over one analysis window."""
    n = np.arange(round(WINDOW_S * sample_rate))
    phase = 2.0 * np.pi * np.array(LOW_HZ + HIGH_HZ)[:, None] * n[None, :] / sample_rate
    return np.concatenate((np.cos(phase), np.sin(phase)))


class ToneDecoder:
    """Streaming symbol decoder; its output depends on the samples only, not on chunking."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.hop = max(1, round(sample_rate / 1000))
        self._min_on = 0.6 * SYMBOL_S * sample_rate
        self._max_on = 1.5 * SYMBOL_S * sample_rate
        self._window = _dft_matrix(sample_rate)
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute position of _buf[0]
        self._next_hop = 0  # absolute position of the next hop to judge
        self._run_start: int | None = None
        self._run_long = False  # the current burst is already too long to be a symbol

    @property
    def horizon(self) -> int:
        """Every symbol starting before this sample has been returned already."""
        if self._run_start is None or self._run_long:
            return self._next_hop
        return self._run_start

    def feed(self, samples: Float32Array) -> list[Symbol]:
        self._buf = np.concatenate((self._buf, samples.astype(np.float32, copy=False)))
        first = self._next_hop - self._buf_start
        count = (len(self._buf) - first) // self.hop
        out: list[Symbol] = []
        if count > 0:
            hops = self._buf[first : first + count * self.hop].reshape(count, self.hop)
            on = np.mean(np.square(hops, dtype=np.float64), axis=1) >= ENVELOPE_THRESHOLD**2
            was_on = self._run_start is not None
            # only the hops where the envelope switches matter
            changes = np.flatnonzero(np.diff(on, prepend=was_on))
            for k in changes.tolist():
                pos = self._next_hop + k * self.hop
                if on[k]:
                    self._run_start = pos
                else:
                    out.extend(self._close_run(pos))
            end = self._next_hop + count * self.hop
            if self._run_start is not None and end - self._run_start > self._max_on:
                self._run_long = True
            self._next_hop += count * self.hop
        self._trim()
        return out

    def finish(self) -> list[Symbol]:
        """End of audio: a burst still sounding ends here."""
        end = self._buf_start + len(self._buf)
        out = self._close_run(end) if self._run_start is not None else []
        self._next_hop = end
        self._trim()
        return out

    def _close_run(self, end: int) -> list[Symbol]:
        start = self._run_start
        assert start is not None
        self._run_start = None
        long_run, self._run_long = self._run_long, False
        if long_run or not self._min_on <= end - start <= self._max_on:
            return []  # a hum, a click or noise: speech-like but no symbol
        width = self._window.shape[1]
        lo = max(start, (start + end - width) // 2) - self._buf_start
        segment = self._buf[lo : lo + width].astype(np.float64)
        # einsum: no BLAS call (thread start-up costs more than this tiny product)
        parts = np.einsum("ij,j->i", self._window[:, : len(segment)], segment)
        power = np.hypot(parts[:32], parts[32:])
        byte = (int(np.argmax(power[:16])) << 4) | int(np.argmax(power[16:]))
        return [Symbol(start, byte)]

    def _trim(self) -> None:
        keep = self._next_hop if self._run_start is None or self._run_long else self._run_start
        drop = keep - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start = keep


__all__ = ["ENVELOPE_THRESHOLD", "Symbol", "ToneDecoder"]
