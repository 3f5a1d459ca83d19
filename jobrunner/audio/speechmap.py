"""The speech map of a file: where each channel has speech, from the VAD in :mod:`.vad`.

:func:`map_file` streams the file with soundfile in blocks of ``block_s`` seconds (a
three-hour file maps in the memory of a three-second one), downmixes or splits the channels,
and returns a :class:`SpeechMap` in file seconds. The map records the detector's identity
(name, version and thresholds), so a stored map can be recomputed when the detector changes;
``to_json``/``from_json`` are its storage form.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import soundfile as sf

from jobrunner.audio.probe import probe
from jobrunner.audio.vad import DEFAULT_PARAMS, Segment, SpeechDetector, VadParams, detector_id
from jobrunner.errors import AudioError

__all__ = ["ChannelMode", "Segment", "SpeechMap", "map_file"]

ChannelMode = Literal["downmix", "split"]
_FORMAT_VERSION: Final = 1
#: containers whose frame count is an estimate (stream.py treats them the same way)
_COMPRESSED_FORMATS: Final = frozenset({"FLAC", "OGG", "MP3", "MPEG"})


@dataclass(frozen=True)
class SpeechMap:
    """Speech segments per channel (one channel when downmixed), in file seconds."""

    channels: tuple[tuple[Segment, ...], ...]
    duration_s: float
    sample_rate: int
    detector: str
    """``name/version (thresholds)`` of the detector: a stored map whose string differs from
    :func:`jobrunner.audio.vad.detector_id` is stale."""
    mode: ChannelMode = "downmix"

    def speech_s(self, channel: int = 0) -> float:
        """Seconds of speech in ``channel``."""
        return sum(s.duration_s for s in self.channels[channel])

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT_VERSION,
                "detector": self.detector,
                "mode": self.mode,
                "sample_rate": self.sample_rate,
                "duration_s": self.duration_s,
                "channels": [[[s.start_s, s.end_s] for s in ch] for ch in self.channels],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SpeechMap:
        """Inverse of :meth:`to_json`; ``ValueError`` for anything else."""
        try:
            data: Any = json.loads(text)
            if data["format"] != _FORMAT_VERSION:
                raise ValueError(f"speech map format {data['format']!r} is not supported")
            mode = data["mode"]
            if mode not in ("downmix", "split"):
                raise ValueError(f"unknown channel mode {mode!r}")
            return cls(
                channels=tuple(
                    tuple(Segment(float(a), float(b)) for a, b in ch) for ch in data["channels"]
                ),
                duration_s=float(data["duration_s"]),
                sample_rate=int(data["sample_rate"]),
                detector=str(data["detector"]),
                mode=mode,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a speech map: {exc!r}") from exc


def map_file(
    path: str | os.PathLike[str],
    *,
    channels: ChannelMode = "downmix",
    block_s: float = 5.0,
    on_progress: Callable[[float, float], None] | None = None,
    params: VadParams = DEFAULT_PARAMS,
) -> SpeechMap:
    """Map the speech in the file at ``path``.

    ``channels="downmix"`` judges the mean of the channels (one segment list); ``"split"``
    judges each channel on its own (a two-sided call recorded one speaker per channel).
    ``on_progress(done_s, total_s)`` is called after each block. Raises :class:`AudioError`
    when the file cannot be read: refused up front by :func:`~jobrunner.audio.probe.probe`
    (missing, empty, corrupt, truncated) or failing part-way through.
    """
    if channels not in ("downmix", "split"):
        raise ValueError(f"channels must be 'downmix' or 'split', got {channels!r}")
    if block_s <= 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    name = os.fspath(path)
    probe(name)  # missing, empty, corrupt or truncated: refused up front with a clear reason
    frames_read = 0
    try:
        with sf.SoundFile(name) as src:
            rate, count, declared = src.samplerate, src.channels, src.frames
            compressed = src.format.upper() in _COMPRESSED_FORMATS
            if rate <= 0 or count < 1:
                raise AudioError(name, f"unusable header: {count} channels at {rate} Hz")
            lanes = count if channels == "split" else 1
            detectors = [SpeechDetector(rate, params) for _ in range(lanes)]
            found: list[list[Segment]] = [[] for _ in range(lanes)]
            block = max(1, round(block_s * rate))
            total_s = declared / rate
            while True:
                data = src.read(block, dtype="float32", always_2d=True)
                if len(data) == 0:
                    break
                frames_read += len(data)
                if lanes == 1:
                    mono = data[:, 0] if count == 1 else data.mean(axis=1, dtype=np.float32)
                    found[0] += detectors[0].push(mono)
                else:
                    for lane, detector in enumerate(detectors):
                        found[lane] += detector.push(np.ascontiguousarray(data[:, lane]))
                if on_progress is not None:
                    on_progress(frames_read / rate, max(total_s, frames_read / rate))
    except AudioError:
        raise
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        raise AudioError(name, f"read failed after {frames_read} frames: {exc}") from exc
    if not compressed and declared and frames_read < declared:
        raise AudioError(name, f"file ended early: {frames_read} of {declared} frames readable")
    if frames_read == 0:
        raise AudioError(name, "no audio frames")
    duration = frames_read / rate
    for lane, detector in enumerate(detectors):
        found[lane] += detector.finish()
    return SpeechMap(
        channels=tuple(tuple(_in_file(s, duration) for s in lane) for lane in found),
        duration_s=duration,
        sample_rate=rate,
        detector=detector_id(params),
        mode=channels,
    )


def _in_file(segment: Segment, duration: float) -> Segment:
    """Rounded to the millisecond and clamped to the file (frame centres can pass its end)."""
    start = round(min(max(segment.start_s, 0.0), duration), 3)
    end = round(min(max(segment.end_s, start), duration), 3)
    return Segment(start, end)
