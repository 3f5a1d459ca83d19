"""Wire bytes -> float32 samples for every encoding of the Auto endpoint.

Binary frames carry raw little-endian mono PCM with no framing of their own, so a frame may
end in the middle of a sample (a client may chunk by bytes). :class:`PcmDecoder` keeps the
partial sample for the next frame; decoding is therefore independent of how the stream was
cut. mu-law and A-law use the ITU-T G.711 expansion, computed once into 256-entry tables
(``audioop`` is gone from Python 3.13). Linear formats scale to [-1, 1); non-finite float
samples (garbage bytes declared as float) become 0 rather than poisoning an engine.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from jobrunner.protocol.limits import ENCODINGS

Float32Array = npt.NDArray[np.float32]


def _mulaw_table() -> Float32Array:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    values = np.where(codes & 0x80, -magnitude, magnitude)
    return (values / 32768.0).astype(np.float32)


def _alaw_table() -> Float32Array:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    values = np.where(codes & 0x80, magnitude, -magnitude)
    return (values / 32768.0).astype(np.float32)


MULAW_TABLE: Final = _mulaw_table()
"""G.711 mu-law byte -> sample, scaled to [-1, 1)."""
ALAW_TABLE: Final = _alaw_table()
"""G.711 A-law byte -> sample, scaled to [-1, 1)."""


def decode(data: bytes, encoding: str) -> Float32Array:
    """Decode whole samples (``len(data)`` must be a multiple of the sample width)."""
    if encoding == "pcm_s16le":
        return (np.frombuffer(data, dtype="<i2").astype(np.float32)) / np.float32(32768.0)
    if encoding == "pcm_s32le":
        wide = np.frombuffer(data, dtype="<i4").astype(np.float64) / 2147483648.0
        return wide.astype(np.float32)
    if encoding in ("pcm_f32le", "pcm_f16le"):
        raw = np.frombuffer(data, dtype="<f4" if encoding == "pcm_f32le" else "<f2")
        out = raw.astype(np.float32)
        if not np.all(np.isfinite(out)):
            out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
        return out
    if encoding == "pcm_mulaw":
        return MULAW_TABLE[np.frombuffer(data, dtype=np.uint8)]
    if encoding == "pcm_alaw":
        return ALAW_TABLE[np.frombuffer(data, dtype=np.uint8)]
    raise ValueError(f"unknown encoding {encoding!r}")


class PcmDecoder:
    """Streaming decoder of one connection's binary frames."""

    def __init__(self, encoding: str) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        self.encoding = encoding
        self.width = ENCODINGS[encoding]
        self._rest = b""

    @property
    def pending_bytes(self) -> int:
        """Bytes of a partial sample waiting for the next frame."""
        return len(self._rest)

    def feed(self, data: bytes) -> Float32Array:
        if self._rest:
            data = self._rest + data
        whole = len(data) - len(data) % self.width
        self._rest = data[whole:]
        return decode(data[:whole], self.encoding)


__all__ = ["ALAW_TABLE", "MULAW_TABLE", "PcmDecoder", "decode"]
