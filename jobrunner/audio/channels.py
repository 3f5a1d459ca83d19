"""The ``--channels auto`` verdict: do a file's channels carry different voices?

A call recorder puts the agent on one side and the caller on the other: each side is much
louder than the other while its own speaker talks, even with some crosstalk. A mono recording
saved as stereo, a stereo music bed or a voice panned a little has the same sound on every
side, at most scaled or delayed a little, so neither side is ever much louder for long. The
verdict therefore rests on **dominance**: the share of active 10 ms frames (any channel above
:data:`ACTIVE_DBFS`) in which a channel is at least :data:`DOMINANCE_DB` louder than the other.

Verdict (:meth:`ChannelFigures.differ`): split when every channel has speech of its own (at
least :data:`MIN_SPEECH_S` by :mod:`jobrunner.audio.vad`) and, for some pair, *each* side
dominates at least :data:`MIN_DOMINANT_SHARE` of the active frames. A silent side is
downmixed: splitting it only costs a session. The other figures are reported, not judged:
the sample correlation falls for a 5 ms delay of the same sound, the envelope correlation for
a 20 ms one, and the speech maps' disagreement is near 0 for a call with crosstalk (the
detector whitens, so a -26 dB echo of the other side is speech to it). Thresholds were chosen
on synthesized cases from the shared speech samples; the measured table is in the README
("Channels") and held by ``tests/audio/test_channels.py``.

Streamed in blocks: an hour of stereo is measured in the memory of a few seconds of it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from jobrunner.audio.probe import probe
from jobrunner.audio.vad import Segment, SpeechDetector
from jobrunner.errors import AudioError

#: a 10 ms frame below this on every channel is silence for the envelope correlation
ACTIVE_DBFS: Final = -60.0
#: the least speech a channel needs to count as a voice of its own
MIN_SPEECH_S: Final = 0.5
#: a channel this much louder than another in a frame dominates it
DOMINANCE_DB: Final = 10.0
#: each side of a pair must dominate this share of the active frames for a split
MIN_DOMINANT_SHARE: Final = 0.04
_FRAME_S: Final = 0.01
_FLOOR_DB: Final = -100.0


@dataclass(frozen=True)
class PairFigures:
    """How two channels compare."""

    channels: tuple[int, int]
    sample_correlation: float | None
    """Pearson correlation of the samples at zero lag (None: a channel is constant)."""
    envelope_correlation: float | None
    """Of the 10 ms log energies over active frames (None: too few active frames)."""
    speech_disagreement: float | None
    """1 - shared speech / union of speech (None: neither channel has speech)."""
    dominant_share: tuple[float, float]
    """Share of the active frames in which the first (second) channel is louder by at least
    :data:`DOMINANCE_DB`."""

    def differ(self) -> bool:
        return min(self.dominant_share) >= MIN_DOMINANT_SHARE


@dataclass(frozen=True)
class ChannelFigures:
    """The measured figures of a file's channels and the verdict drawn from them."""

    channels: int
    duration_s: float
    speech_s: tuple[float, ...]
    pairs: tuple[PairFigures, ...]

    def differ(self) -> bool:
        """True: transcribe each channel on its own (``split``); False: ``downmix``."""
        if self.channels < 2 or min(self.speech_s) < MIN_SPEECH_S:
            return False
        return any(pair.differ() for pair in self.pairs)


class _Pearson:
    """Running sums of two series for their correlation, in float64."""

    def __init__(self) -> None:
        self.sums = np.zeros(6)  # n, x, y, xx, yy, xy

    def push(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> None:
        self.sums += np.array([x.size, x.sum(), y.sum(), x @ x, y @ y, x @ y], dtype=np.float64)

    def value(self, min_n: int = 2) -> float | None:
        n, sx, sy, sxx, syy, sxy = self.sums
        if n < min_n:
            return None
        vx, vy = sxx - sx * sx / n, syy - sy * sy / n
        if vx <= 1e-12 * max(n, 1.0) or vy <= 1e-12 * max(n, 1.0):
            return None
        return float(np.clip((sxy - sx * sy / n) / np.sqrt(vx * vy), -1.0, 1.0))


class ChannelMeter:
    """Blocks of ``(frames, channels)`` float samples in, :class:`ChannelFigures` out."""

    def __init__(self, rate: int, channels: int) -> None:
        if rate <= 0 or channels < 1:
            raise ValueError(f"unusable audio: {channels} channels at {rate} Hz")
        self.rate = rate
        self.channels = channels
        self._frame = max(1, round(rate * _FRAME_S))
        self._rest = np.zeros((0, channels), dtype=np.float32)
        self._frames = 0
        self._pairs = list(itertools.combinations(range(channels), 2))
        self._samples = [_Pearson() for _ in self._pairs]
        self._envelopes = [_Pearson() for _ in self._pairs]
        self._dominant = np.zeros((len(self._pairs), 3))  # active, first louder, second louder
        self._detectors = [SpeechDetector(rate) for _ in range(channels)]
        self._speech: list[list[Segment]] = [[] for _ in range(channels)]

    def push(self, block: npt.ArrayLike) -> None:
        data = np.asarray(block, dtype=np.float32).reshape(-1, self.channels)
        self._frames += len(data)
        for ch, detector in enumerate(self._detectors):
            self._speech[ch] += detector.push(np.ascontiguousarray(data[:, ch]))
        wide = data.astype(np.float64)
        for pair, pearson in zip(self._pairs, self._samples, strict=True):
            pearson.push(wide[:, pair[0]], wide[:, pair[1]])
        data = np.concatenate([self._rest, data]) if len(self._rest) else data
        whole = len(data) // self._frame * self._frame
        self._rest = data[whole:]
        if whole:
            frames = data[:whole].astype(np.float64).reshape(-1, self._frame, self.channels)
            power = np.mean(frames * frames, axis=1)
            level = np.maximum(10 * np.log10(power + 1e-30), _FLOOR_DB)
            active = (level > ACTIVE_DBFS).any(axis=1)
            for k, ((a, b), pearson) in enumerate(zip(self._pairs, self._envelopes, strict=True)):
                x, y = level[active, a], level[active, b]
                pearson.push(x, y)
                diff = x - y
                self._dominant[k] += (
                    x.size,
                    (diff >= DOMINANCE_DB).sum(),
                    (-diff >= DOMINANCE_DB).sum(),
                )

    def finish(self) -> ChannelFigures:
        for ch, detector in enumerate(self._detectors):
            self._speech[ch] += detector.finish()
        pairs = tuple(
            PairFigures(
                channels=(a, b),
                sample_correlation=_round(samples.value()),
                envelope_correlation=_round(envelope.value(min_n=10)),
                speech_disagreement=_round(disagreement(self._speech[a], self._speech[b])),
                dominant_share=_shares(dominant),
            )
            for (a, b), samples, envelope, dominant in zip(
                self._pairs, self._samples, self._envelopes, self._dominant, strict=True
            )
        )
        return ChannelFigures(
            channels=self.channels,
            duration_s=self._frames / self.rate,
            speech_s=tuple(round(sum(s.duration_s for s in ch), 3) for ch in self._speech),
            pairs=pairs,
        )


def _shares(counts: npt.NDArray[np.float64]) -> tuple[float, float]:
    active, first, second = counts
    if active == 0:
        return (0.0, 0.0)
    return (round(float(first / active), 3), round(float(second / active), 3))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def disagreement(a: list[Segment], b: list[Segment]) -> float | None:
    """1 - overlap / union of two sorted segment lists (None when both are empty)."""
    total = sum(s.duration_s for s in a) + sum(s.duration_s for s in b)
    shared, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        shared += max(0.0, min(a[i].end_s, b[j].end_s) - max(a[i].start_s, b[j].start_s))
        if a[i].end_s < b[j].end_s:
            i += 1
        else:
            j += 1
    union = total - shared
    return None if union <= 0 else 1.0 - shared / union


def measure(samples: npt.ArrayLike, rate: int) -> ChannelFigures:
    """The figures of an in-memory ``(frames, channels)`` signal (tests, benchmarks)."""
    data = np.asarray(samples, dtype=np.float32)
    meter = ChannelMeter(rate, 1 if data.ndim == 1 else data.shape[1])
    meter.push(data)
    return meter.finish()


def measure_file(path: str | os.PathLike[str], *, block_s: float = 5.0) -> ChannelFigures:
    """The figures of the file at ``path``, read in blocks of ``block_s`` seconds.

    Raises :class:`AudioError` when the file cannot be read.
    """
    name = os.fspath(path)
    probe(name)
    try:
        with sf.SoundFile(name) as src:
            meter = ChannelMeter(src.samplerate, src.channels)
            for block in src.blocks(max(1, round(block_s * src.samplerate)), dtype="float32"):
                meter.push(block)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioError(name, f"cannot measure its channels: {exc}") from exc
    return meter.finish()


def channels_differ(path: str | os.PathLike[str]) -> bool:
    """True when the file's channels carry different voices (``--channels auto`` splits)."""
    return measure_file(path).differ()
