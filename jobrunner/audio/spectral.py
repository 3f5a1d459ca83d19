"""The frame scorer of the speech-map VAD: 16 kHz samples in, per-frame SNR over the noise floor.

:class:`SpectralVad` is the signal processing behind :mod:`jobrunner.audio.vad` (read its
docstring for why it is built this way): 25 ms Hann windows every 10 ms, 16 mel bands, each
divided by its minimum-statistics noise floor, the frame's SNR the mean of its two best bands.
It keeps only the band energies of frames not yet scored (about 1 s), so memory stays flat.
"""

from __future__ import annotations

import functools
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

RATE: Final = 16_000
"""The rate the detector works at; other rates are converted by :class:`SpeechDetector`."""
HOP: Final = 160
"""Samples per frame step (10 ms): the time resolution of every boundary."""
WINDOW: Final = 400
"""Samples per analysis window (25 ms)."""
FRAME_S: Final = HOP / RATE
_NFFT: Final = 512
_BANDS: Final = 16
_BAND_LO_HZ: Final = 100.0
_BAND_HI_HZ: Final = 7000.0
_TOP_BANDS: Final = 2
_BLOCK: Final = 50  # frames per noise-statistics block (0.5 s)
_HISTORY: Final = 6  # blocks of history in the floor (3 s)
_LOOKAHEAD: Final = 1  # blocks after the judged one (0.5 s)
_PERCENTILE: Final = 10.0
_MIN_BLOCK_FRAMES: Final = 10  # a shorter trailing block gives no statistics of its own
_FLOOR_DBFS: Final = -70.0
_SLICE: Final = 128  # frames per FFT batch (bounds the transient memory)
_MIN_GAMMA: Final = 1e-3  # -30 dB: keeps log() finite in digital silence

Float32Array = npt.NDArray[np.float32]


class FrameScores(NamedTuple):
    """Smoothed SNR (dB) of consecutive frames; frame ``k`` is centred on ``frame_time(k)``."""

    first: int
    snr_db: Float32Array

    def flags(self, threshold_db: float) -> npt.NDArray[np.bool_]:
        """Raw frame-level decisions (confident speech at ``threshold_db``), before any
        segment logic."""
        return self.snr_db > threshold_db


def frame_time(frame: int) -> float:
    """Seconds (detector time) of the centre of frame ``frame``'s window."""
    return (frame * HOP + WINDOW / 2) / RATE


@functools.cache
def _band_matrix() -> Float32Array:
    freqs = np.fft.rfftfreq(_NFFT, 1 / RATE)

    def mel(f: float) -> float:
        return float(2595.0 * np.log10(1.0 + f / 700.0))

    edges_mel = np.linspace(mel(_BAND_LO_HZ), mel(_BAND_HI_HZ), _BANDS + 1)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    matrix = np.zeros((freqs.size, _BANDS), dtype=np.float32)
    for band in range(_BANDS):
        matrix[(freqs >= edges[band]) & (freqs < edges[band + 1]), band] = 1.0
    return matrix


@functools.cache
def _window() -> Float32Array:
    return np.hanning(WINDOW).astype(np.float32)


def _band_energies(samples: Float32Array) -> Float32Array:
    """Band energies of every complete frame in ``samples`` (frames x bands).

    Works through :data:`_SLICE` frames at a time so that a large block of input never
    costs more than a few hundred KB of spectra.
    """
    count = max(0, (samples.size - WINDOW) // HOP + 1)
    energies = np.empty((count, _BANDS), dtype=np.float32)
    if count == 0:
        return energies
    view = sliding_window_view(samples, WINDOW)[::HOP]
    for first in range(0, count, _SLICE):
        frames = view[first : min(first + _SLICE, count)] * _window()
        spectrum = np.fft.rfft(frames, _NFFT)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        energies[first : first + len(frames)] = power @ _band_matrix()
    return energies


def _block_stat(energies: Float32Array) -> Float32Array:
    return np.percentile(energies, _PERCENTILE, axis=0).astype(np.float32)


@functools.cache
def _calibration() -> tuple[Float32Array, Float32Array]:
    """(bias, floor) per band, measured once on seeded white noise through this pipeline.

    ``bias`` turns the windowed minimum of 10th percentiles into the mean noise power;
    ``floor`` is the band energy of white noise at :data:`_FLOOR_DBFS`.
    """
    noise = np.random.default_rng(20240612).standard_normal(RATE * 20).astype(np.float32)
    energies = _band_energies(noise)
    blocks = [energies[i : i + _BLOCK] for i in range(0, len(energies) - _BLOCK + 1, _BLOCK)]
    stats = np.stack([_block_stat(b) for b in blocks])
    window = _HISTORY + 1 + _LOOKAHEAD
    minima = np.stack([stats[i : i + window].min(axis=0) for i in range(len(stats) - window + 1)])
    bias = (energies.mean(axis=0) / minima.mean(axis=0)).astype(np.float32)
    floor = (energies.mean(axis=0) * 10 ** (_FLOOR_DBFS / 10)).astype(np.float32)
    return bias, floor


class SpectralVad:
    """Streaming frame scorer at 16 kHz: feed samples, get :class:`FrameScores` back.

    Scores come out in order, about 1 s behind the input (the floor's lookahead); the result
    does not depend on how the audio was cut into pieces.
    """

    def __init__(self) -> None:
        self._bias, self._floor = _calibration()
        self._tail: Float32Array = np.zeros(0, dtype=np.float32)
        # band energies of the frames not scored yet; they start at frame `_judged`, which is
        # a multiple of _BLOCK until the end
        self._pending: Float32Array = np.zeros((0, _BANDS), dtype=np.float32)
        self._judged = 0
        self._stats: dict[int, Float32Array] = {}  # block index -> 10th percentile per band
        self._next_stat = 0  # first block without statistics
        self._context: Float32Array = np.zeros(0, dtype=np.float32)  # raw scores kept back
        self._emitted = 0

    @property
    def frames(self) -> int:
        """Frames scored and returned so far."""
        return self._emitted

    def process(self, samples: npt.ArrayLike) -> FrameScores:
        """Scores of every frame that became decidable with ``samples`` (16 kHz mono)."""
        audio = np.concatenate([self._tail, np.asarray(samples, dtype=np.float32).ravel()])
        energies = _band_energies(audio)
        self._tail = audio[len(energies) * HOP :].copy()
        if len(energies):
            self._pending = np.concatenate([self._pending, energies])
        return self._smooth(self._score(final=False), final=False)

    def finish(self) -> FrameScores:
        """Scores of the remaining frames (a last partial window is not a frame)."""
        return self._smooth(self._score(final=True), final=True)

    def _score(self, *, final: bool) -> Float32Array:
        """Raw SNR of the pending blocks whose lookahead is complete (of all at the end)."""
        base = self._judged // _BLOCK
        complete = base + len(self._pending) // _BLOCK  # blocks with all their frames
        for block in range(self._next_stat, complete):
            rows = self._pending[(block - base) * _BLOCK : (block - base + 1) * _BLOCK]
            self._stats[block] = _block_stat(rows)
        self._next_stat = max(self._next_stat, complete)
        if final:
            partial = self._pending[(complete - base) * _BLOCK :]
            if len(partial) >= _MIN_BLOCK_FRAMES or (len(partial) and not self._stats):
                self._stats[complete] = _block_stat(partial)
            ready = len(self._pending)
        else:
            ready = max(0, complete - _LOOKAHEAD - base) * _BLOCK
        out = np.empty(ready, dtype=np.float32)
        for offset in range(0, ready, _BLOCK):
            block = base + offset // _BLOCK
            window = [
                self._stats[b]
                for b in range(block - _HISTORY, block + _LOOKAHEAD + 1)
                if b in self._stats
            ]
            noise = np.maximum(np.min(np.stack(window), axis=0) * self._bias, self._floor)
            out[offset : offset + _BLOCK] = _snr_db(self._pending[offset : offset + _BLOCK], noise)
        self._pending = self._pending[ready:]
        self._judged += ready
        oldest = self._judged // _BLOCK - _HISTORY
        for block in [b for b in self._stats if b < oldest]:
            del self._stats[block]
        return out

    def _smooth(self, raw: Float32Array, *, final: bool) -> FrameScores:
        """3-frame centred mean; the newest frame waits for its successor (edges repeat)."""
        first = self._emitted
        real = np.concatenate([self._context, raw])  # real[0] is frame first-1 (or 0)
        left = real if first > 0 else np.concatenate([real[:1], real])
        full = np.concatenate([left, left[-1:]]) if final and left.size else left
        count = full.size - 2
        if count <= 0:
            self._context = real
            return FrameScores(first, np.zeros(0, dtype=np.float32))
        smoothed = ((full[:-2] + full[1:-1] + full[2:]) / np.float32(3)).astype(np.float32)
        self._emitted += count
        self._context = real[-2:].copy()
        return FrameScores(first, smoothed)


def _snr_db(energies: Float32Array, noise: Float32Array) -> Float32Array:
    gamma = np.maximum(energies / noise, _MIN_GAMMA)
    best = np.partition(gamma, _BANDS - _TOP_BANDS, axis=1)[:, _BANDS - _TOP_BANDS :]
    result: Float32Array = (10.0 * np.log10(best).mean(axis=1)).astype(np.float32)
    return result
