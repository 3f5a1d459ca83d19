"""Stream a recording from disk as wire-ready PCM chunks, in bounded memory.

The realtime service decodes whatever bytes it gets with the encoding and sample rate declared
in the handshake and does not complain when they are wrong: it transcribes garbage. So the
wire format is derived from the file header here, once, as a :class:`WirePlan`, and
:func:`iter_chunks` produces exactly that format.

Choice of the wire encoding (``Settings.encoding == "auto"``):

=========================================  ==========================================
file                                       wire
=========================================  ==========================================
16-bit integer PCM                         ``pcm_s16le``
24/32-bit integer PCM                      ``pcm_s32le`` (24-bit is left-justified)
float / double                             ``pcm_f32le``
mu-law / A-law, mono                       ``pcm_mulaw`` / ``pcm_alaw`` (same codes)
mu-law / A-law, multichannel               decoded, downmixed, ``pcm_s16le``
compressed (FLAC, Ogg Vorbis/Opus, MP3..)  decoded to ``pcm_s16le``
anything else (8-bit, ADPCM ...)           decoded to ``pcm_s16le``
=========================================  ==========================================

The file's own sample rate is kept when it lies in 8,000-48,000 Hz; otherwise the audio is
resampled to ``Settings.resample_rate`` with soxr's streaming resampler and sent as
``pcm_s16le`` (unless an explicit encoding was configured). Multichannel audio becomes mono
by averaging the channels (``downmix="mono"``) or by keeping the first (``"first"``); the
service has no channels parameter.

Nothing here holds more than one block of audio: a three-hour file streams in the same
memory as a three-second one. Mu-law/A-law codes are re-encoded with libsndfile's own
G.711 tables, so they leave exactly as stored (mu-law "negative zero", 0x7F, becomes the
equivalent 0xFF; both decode to silence).
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import soundfile as sf

from jobrunner.audio.probe import probe
from jobrunner.audio.span import Span
from jobrunner.config import Settings
from jobrunner.errors import AudioError, ConfigError, FileUnavailableError
from jobrunner.protocol.limits import ENCODINGS
from jobrunner.protocol.limits import MAX_SAMPLE_RATE as MAX_RATE
from jobrunner.protocol.limits import MIN_SAMPLE_RATE as MIN_RATE

#: chunks decoded per soundfile read: each read costs tens of microseconds of Python whatever
#: its size, which at 1,000 sessions x 10 chunks/s was a fifth of the client's CPU; ten
#: chunks (1 s at 100 ms) is still one small block in memory.
CHUNKS_PER_READ: Final = 10

#: containers whose samples are compressed: always decoded, whatever the subtype says
#: (soundfile reports FLAC as PCM_16/PCM_24).
_COMPRESSED_FORMATS: Final = frozenset({"FLAC", "OGG", "MP3", "MPEG"})

#: subtype -> wire encoding when the stored samples can be sent as they are.
_DIRECT: Final[dict[str, str]] = {
    "PCM_16": "pcm_s16le",
    "PCM_24": "pcm_s32le",
    "PCM_32": "pcm_s32le",
    "FLOAT": "pcm_f32le",
    "DOUBLE": "pcm_f32le",
    "ULAW": "pcm_mulaw",
    "ALAW": "pcm_alaw",
}

#: wire encoding -> numpy dtype soundfile decodes into before the wire conversion
_READ_DTYPE: Final[dict[str, str]] = {
    "pcm_s16le": "int16",
    "pcm_s32le": "int32",
    "pcm_f32le": "float32",
    "pcm_f16le": "float32",
    "pcm_mulaw": "int16",
    "pcm_alaw": "int16",
}


class SourceInfo(Protocol):
    """What :func:`plan_stream` needs from a probe (``jobrunner.audio.probe.AudioInfo`` fits)."""

    @property
    def format(self) -> str: ...
    @property
    def subtype(self) -> str: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def frames(self) -> int: ...


@dataclass(frozen=True)
class WirePlan:
    """How one file goes on the wire. Recorded on the attempt so a transcript can be explained.

    ``downmix`` is the multichannel policy applied (``"mono"``/``"first"``), ``None`` for mono
    files. ``bytes_per_second`` is of the wire stream (``sample_rate * bytes per sample``).
    """

    encoding: str
    sample_rate: int
    source_rate: int
    channels: int
    downmix: str | None
    resampled: bool
    bytes_per_second: int
    source_format: str = ""
    source_subtype: str = ""
    source_frames: int = 0
    span: Span = Span()

    @property
    def bytes_per_sample(self) -> int:
        return ENCODINGS[self.encoding]

    @property
    def span_frames(self) -> int:
        """Source frames streamed: the span's (the whole file by default)."""
        end = self.source_frames if self.span.end_frame is None else self.span.end_frame
        return max(0, end - self.span.start_frame)

    @property
    def duration_s(self) -> float:
        """Duration of the audio streamed: the source's, or its span's (the wire carries the
        same duration at another rate)."""
        return self.span_frames / self.source_rate if self.source_rate else 0.0

    def chunk_frames(self, chunk_ms: int) -> int:
        """Wire samples per chunk: ``sample_rate * chunk_ms / 1000`` rounded, at least one."""
        return max(1, round(self.sample_rate * chunk_ms / 1000))

    def describe(self) -> str:
        """One human line, e.g. ``pcm_s16le 16000 Hz (from 96000 Hz, 2 ch mean)``."""
        notes = []
        if self.resampled:
            notes.append(f"from {self.source_rate} Hz")
        if self.span.channel is not None:
            notes.append(f"channel {self.span.channel} of {self.channels}")
        elif self.downmix is not None:
            notes.append(f"{self.channels} ch {'mean' if self.downmix == 'mono' else 'first'}")
        tail = f" ({', '.join(notes)})" if notes else ""
        return f"{self.encoding} {self.sample_rate} Hz{tail}"


def choose_encoding(format: str, subtype: str, channels: int) -> str:
    """The ``auto`` wire encoding for a file (see the module table)."""
    if format.upper() in _COMPRESSED_FORMATS:
        return "pcm_s16le"
    wire = _DIRECT.get(subtype.upper(), "pcm_s16le")
    if wire in ("pcm_mulaw", "pcm_alaw") and channels > 1:
        return "pcm_s16le"
    return wire


def plan_stream(source: SourceInfo | str | os.PathLike[str], settings: Settings) -> WirePlan:
    """Decide the wire format for ``source`` under ``settings``.

    ``source`` is a probe result, or a path to :func:`~jobrunner.audio.probe.probe` first (which
    refuses empty, truncated and undecodable files with :class:`AudioError`).
    """
    info: SourceInfo = probe(source) if isinstance(source, str | os.PathLike) else source
    if info.channels < 1 or info.sample_rate <= 0:
        raise AudioError(
            str(source), f"unusable header: {info.channels} channels at {info.sample_rate} Hz"
        )
    resampled = not MIN_RATE <= info.sample_rate <= MAX_RATE
    if settings.encoding == "auto":
        wire = (
            "pcm_s16le" if resampled else choose_encoding(info.format, info.subtype, info.channels)
        )
    elif settings.encoding in ENCODINGS:
        wire = settings.encoding
    else:
        known = ", ".join(["auto", *ENCODINGS])
        raise ConfigError(f"unknown encoding {settings.encoding!r} (one of {known})")
    rate = settings.resample_rate if resampled else info.sample_rate
    if resampled and not MIN_RATE <= rate <= MAX_RATE:
        raise ConfigError(f"resample_rate must be in {MIN_RATE}..{MAX_RATE} Hz, got {rate}")
    return WirePlan(
        encoding=wire,
        sample_rate=rate,
        source_rate=info.sample_rate,
        channels=info.channels,
        downmix=settings.downmix if info.channels > 1 else None,
        resampled=resampled,
        bytes_per_second=rate * ENCODINGS[wire],
        source_format=info.format,
        source_subtype=info.subtype,
        source_frames=info.frames,
    )


@functools.cache
def _g711_table(subtype: str) -> npt.NDArray[np.uint8]:
    """int16 -> G.711 code for every int16 value, built once with libsndfile's own encoder."""
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", 8000, 1, subtype, format="RAW") as out:
        out.write(np.arange(-32768, 32768, dtype=np.int16))
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _to_mono(block: npt.NDArray[Any], policy: str | None) -> npt.NDArray[Any]:
    if block.shape[1] == 1 or policy == "first":
        return block[:, 0]
    mean: npt.NDArray[np.float64] = block.mean(axis=1, dtype=np.float64)
    if block.dtype.kind == "f":
        return mean.astype(block.dtype)
    info = np.iinfo(block.dtype)
    return np.clip(np.rint(mean), info.min, info.max).astype(block.dtype)


def _float_to_int16(x: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def _encode(mono: npt.NDArray[Any], encoding: str) -> bytes:
    """Samples (in the dtype :data:`_READ_DTYPE` chose, or float32 after resampling) -> wire."""
    if encoding == "pcm_f32le":
        return mono.astype("<f4", copy=False).tobytes()
    if encoding == "pcm_f16le":
        return mono.astype("<f2").tobytes()
    if encoding == "pcm_s32le":
        if mono.dtype.kind == "f":
            scaled = np.clip(np.rint(mono.astype(np.float64) * 2**31), -(2**31), 2**31 - 1)
            return scaled.astype("<i4").tobytes()
        return mono.astype("<i4", copy=False).tobytes()
    samples = _float_to_int16(mono) if mono.dtype.kind == "f" else mono
    if encoding == "pcm_s16le":
        return samples.astype("<i2", copy=False).tobytes()
    subtype = "ULAW" if encoding == "pcm_mulaw" else "ALAW"
    table = _g711_table(subtype)
    return table[samples.astype(np.int32) + 32768].tobytes()


def _decoded_blocks(path: str, plan: WirePlan, block_frames: int) -> Iterator[npt.NDArray[Any]]:
    """Mono blocks at the wire rate, in the dtype the wire conversion expects."""
    dtype = "float32" if plan.resampled else _READ_DTYPE[plan.encoding]
    resampler = None
    if plan.resampled:
        import soxr

        resampler = soxr.ResampleStream(plan.source_rate, plan.sample_rate, 1, dtype="float32")
    span = plan.span
    # a whole file reads to its end (a compressed file's frame count is an estimate)
    limit = None if span.end_frame is None else span.end_frame - span.start_frame
    wanted = plan.span_frames
    frames_read = 0
    try:
        with sf.SoundFile(path) as src:
            if src.samplerate != plan.source_rate or src.channels != plan.channels:
                raise AudioError(path, "file changed since it was planned")
            if span.start_frame:
                src.seek(span.start_frame)
            while limit is None or frames_read < limit:
                n = block_frames if limit is None else min(block_frames, limit - frames_read)
                block = src.read(n, dtype=dtype, always_2d=True)
                if len(block) == 0:
                    break
                frames_read += len(block)
                if span.channel is not None:
                    block = block[:, span.channel : span.channel + 1]
                mono = _to_mono(block, plan.downmix)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=False)
                if len(mono):
                    yield mono
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise AudioError(path, f"read failed after {frames_read} frames: {exc}") from exc
    except OSError as exc:  # the file system's doing (a share gone away), not the content's
        reason = f"unreadable after {frames_read} frames: {exc.strerror or exc}"
        raise FileUnavailableError(path, reason) from exc
    compressed = plan.source_format.upper() in _COMPRESSED_FORMATS
    if not compressed and plan.source_frames and frames_read < wanted:
        raise AudioError(path, f"file ended early: {frames_read} of {wanted} frames readable")
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail


def iter_chunks(
    path: str | os.PathLike[str], plan: WirePlan, chunk_ms: int
) -> Generator[bytes, None, None]:
    """Wire bytes in chunks of exactly ``plan.chunk_frames(chunk_ms)`` samples, the last shorter.

    Reads :data:`CHUNKS_PER_READ` chunks' worth of source frames at a time. Raises
    :class:`AudioError` when the file cannot be decoded, :class:`FileUnavailableError` when it is
    gone or the file system fails, including mid-stream (the chunks already yielded stay valid).
    """
    name = os.fspath(path)
    if not Path(name).exists():
        raise FileUnavailableError(name, "file not found")
    if not Path(name).is_file():
        raise AudioError(name, "not a regular file")
    chunk_bytes = plan.chunk_frames(chunk_ms) * plan.bytes_per_sample
    source_block = max(1, round(plan.source_rate * chunk_ms / 1000)) * CHUNKS_PER_READ
    pending = bytearray()
    for mono in _decoded_blocks(name, plan, source_block):
        pending += _encode(mono, plan.encoding)
        while len(pending) >= chunk_bytes:
            yield bytes(pending[:chunk_bytes])
            del pending[:chunk_bytes]
    if pending:
        yield bytes(pending)
