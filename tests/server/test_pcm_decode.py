"""Wire decoding: every encoding, checked against libsndfile, whatever the frame cuts."""

from __future__ import annotations

import numpy as np
import pytest
from srvkit import encode

from jobrunner.server.pcm import PcmDecoder, decode

RNG = np.random.default_rng(7)
SIGNAL = (0.9 * np.sin(np.linspace(0, 300, 4000)) * RNG.uniform(0.1, 1, 4000)).astype(np.float32)

#: worst-case error of each encoding's quantisation on a [-0.9, 0.9] signal
TOLERANCE = {
    "pcm_s16le": 1 / 32768,
    "pcm_s32le": 1e-7,
    "pcm_f16le": 1e-3,
    "pcm_f32le": 0.0,
    "pcm_mulaw": 0.03,
    "pcm_alaw": 0.03,
}


@pytest.mark.parametrize("encoding", sorted(TOLERANCE))
def test_decode_matches_the_signal(encoding: str) -> None:
    decoded = decode(encode(SIGNAL, encoding), encoding)
    assert decoded.dtype == np.float32 and len(decoded) == len(SIGNAL)
    assert np.max(np.abs(decoded - SIGNAL)) <= TOLERANCE[encoding]


@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_s32le", "pcm_f16le", "pcm_f32le"])
def test_frames_cut_inside_a_sample(encoding: str) -> None:
    wire = encode(SIGNAL, encoding)
    decoder = PcmDecoder(encoding)
    parts = [decoder.feed(wire[i : i + 3]) for i in range(0, len(wire), 3)]
    assert decoder.pending_bytes == 0
    np.testing.assert_array_equal(np.concatenate(parts), decode(wire, encoding))


def test_partial_sample_waits_for_the_next_frame() -> None:
    decoder = PcmDecoder("pcm_s32le")
    assert len(decoder.feed(b"\x00\x00")) == 0 and decoder.pending_bytes == 2
    assert decoder.feed(b"\x00\x40").tolist() == [0.5]


def test_g711_silence_and_extremes() -> None:
    assert decode(b"\xff\x7f", "pcm_mulaw").tolist() == [0.0, 0.0]  # both zero codes
    assert decode(b"\x80", "pcm_mulaw")[0] == pytest.approx(32124 / 32768)
    assert decode(b"\x00", "pcm_mulaw")[0] == pytest.approx(-32124 / 32768)
    assert decode(b"\xaa", "pcm_alaw")[0] == pytest.approx(32256 / 32768)
    assert abs(decode(b"\xd5", "pcm_alaw")[0]) == pytest.approx(8 / 32768)


def test_garbage_floats_become_silence() -> None:
    wire = np.array([np.nan, np.inf, 0.25], dtype="<f4").tobytes()
    assert decode(wire, "pcm_f32le").tolist() == [0.0, 0.0, 0.25]


def test_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="pcm_s8"):
        PcmDecoder("pcm_s8")
