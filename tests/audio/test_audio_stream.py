"""Streaming real files written with soundfile: the wire format follows the file header."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from jobrunner.audio.stream import WirePlan, iter_chunks, plan_stream
from jobrunner.config import Settings
from jobrunner.errors import AudioError, ConfigError

SETTINGS = Settings()


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def stream(path: Path, settings: Settings = SETTINGS) -> tuple[WirePlan, list[bytes]]:
    plan = plan_stream(path, settings)
    return plan, list(iter_chunks(path, plan, settings.chunk_ms))


def wav_data_chunk(path: Path) -> bytes:
    """The raw sample bytes of a RIFF/WAVE file, read without any audio library."""
    blob = path.read_bytes()
    pos = 12
    while pos < len(blob):
        cid, size = blob[pos : pos + 4], int.from_bytes(blob[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return blob[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def dominant_hz(samples: npt.NDArray[np.float64], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_pcm16_wav_is_sent_as_stored(tmp_path: Path) -> None:
    data = (tone(440, 1.05, 16000) * 32767).astype(np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, data, 16000, subtype="PCM_16")
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate, plan.resampled, plan.downmix) == (
        "pcm_s16le",
        16000,
        False,
        None,
    )
    assert plan.bytes_per_second == 32000
    assert b"".join(chunks) == data.astype("<i2").tobytes() == wav_data_chunk(path)


def test_24_bit_goes_out_as_s32_left_justified(tmp_path: Path) -> None:
    data = np.arange(-4000, 4000, dtype=np.int32) * 1000  # 24-bit range values
    path = tmp_path / "a.wav"
    sf.write(path, (data << 8).astype(np.int32), 24000, subtype="PCM_24")
    plan, chunks = stream(path)
    assert plan.encoding == "pcm_s32le" and plan.sample_rate == 24000
    sent = np.frombuffer(b"".join(chunks), dtype="<i4")
    assert np.array_equal(sent >> 8, data)


def test_32_bit_int_is_sent_exactly(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(-(2**31), 2**31 - 1, 8000, dtype=np.int64)
    path = tmp_path / "a.wav"
    sf.write(path, data.astype(np.int32), 8000, subtype="PCM_32")
    plan, chunks = stream(path)
    assert plan.encoding == "pcm_s32le"
    assert b"".join(chunks) == data.astype("<i4").tobytes()


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_float_files_go_out_as_f32(tmp_path: Path, subtype: str) -> None:
    data = tone(300, 0.5, 44100, amp=0.9)
    path = tmp_path / "a.wav"
    sf.write(path, data, 44100, subtype=subtype)
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate) == ("pcm_f32le", 44100)
    sent = np.frombuffer(b"".join(chunks), dtype="<f4")
    assert len(sent) == len(data)
    np.testing.assert_allclose(sent, data, atol=1e-6)


@pytest.mark.parametrize(("subtype", "wire"), [("ULAW", "pcm_mulaw"), ("ALAW", "pcm_alaw")])
def test_g711_codes_leave_exactly_as_stored(tmp_path: Path, subtype: str, wire: str) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(500, 1.0, 8000, amp=0.7), 8000, subtype=subtype)
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate, plan.bytes_per_second) == (wire, 8000, 8000)
    stored = wav_data_chunk(path)
    if wire == "pcm_mulaw":  # mu-law's two zeros (0x7F, 0xFF) decode alike; 0xFF is sent
        assert b"\x7f" in stored
        stored = stored.replace(b"\x7f", b"\xff")
    assert b"".join(chunks) == stored
    assert len(chunks[0]) == 800


def test_stereo_mulaw_is_decoded_downmixed_and_sent_as_s16(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    stereo = np.stack([tone(500, 0.5, 8000), np.zeros(4000)], axis=1)
    sf.write(path, stereo, 8000, subtype="ULAW")
    plan, chunks = stream(path)
    assert (plan.encoding, plan.downmix, plan.channels) == ("pcm_s16le", "mono", 2)
    decoded, _ = sf.read(path, dtype="int16")
    expected = np.rint(decoded.astype(np.float64).mean(axis=1)).astype("<i2")
    assert b"".join(chunks) == expected.tobytes()


def test_flac_is_decoded_to_s16_losslessly(tmp_path: Path) -> None:
    data = (tone(440, 0.7, 22050) * 20000).astype(np.int16)
    path = tmp_path / "a.flac"
    sf.write(path, data, 22050, subtype="PCM_24")  # even a 24-bit FLAC goes out as s16
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate) == ("pcm_s16le", 22050)
    assert b"".join(chunks) == data.astype("<i2").tobytes()
    assert len(chunks[0]) == 2205 * 2


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", "MPEG_LAYER_III", "mp3")],
)
def test_compressed_files_are_decoded_to_s16(
    tmp_path: Path, fmt: str, subtype: str, suffix: str
) -> None:
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    path = tmp_path / f"a.{suffix}"
    sf.write(path, tone(440, 1.0, 48000), 48000, format=fmt, subtype=subtype)
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate, plan.resampled) == ("pcm_s16le", 48000, False)
    sent = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float64) / 32768
    assert abs(len(sent) - 48000) < 48000 * 0.05
    assert abs(dominant_hz(sent, 48000) - 440) < 5


@pytest.mark.parametrize("source_rate", [6000, 96000])
def test_rates_outside_8_to_48_khz_are_resampled_to_16k(tmp_path: Path, source_rate: int) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(1000, 2.0, source_rate), source_rate, subtype="FLOAT")
    plan, chunks = stream(path)
    assert (plan.encoding, plan.sample_rate, plan.source_rate, plan.resampled) == (
        "pcm_s16le",
        16000,
        source_rate,
        True,
    )
    assert all(len(c) == 3200 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 3200
    sent = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float64) / 32768
    assert abs(len(sent) - 32000) <= 2  # same duration, new rate
    assert abs(dominant_hz(sent, 16000) - 1000) < 2
    assert 0.4 < np.abs(sent[4000:28000]).max() < 0.6  # amplitude kept


def test_resampler_removes_what_the_new_rate_cannot_carry(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    mixed = tone(1000, 1.0, 96000, amp=0.3) + tone(12000, 1.0, 96000, amp=0.3)
    sf.write(path, mixed, 96000, subtype="PCM_16")
    _, chunks = stream(path)
    sent = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float64) / 32768
    spectrum = np.abs(np.fft.rfft(sent[1000:15000]))
    freqs = np.fft.rfftfreq(14000, 1 / 16000)
    # 12 kHz would alias to 4 kHz with naive decimation
    near_4k = spectrum[(freqs > 3900) & (freqs < 4100)].max()
    assert near_4k < spectrum.max() / 1000


def test_stereo_is_averaged_by_default_or_first_channel_by_policy(tmp_path: Path) -> None:
    left = (tone(300, 0.5, 16000) * 20000).astype(np.int16)
    right = (tone(700, 0.5, 16000) * 10000).astype(np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_16")

    plan, chunks = stream(path)
    assert plan.downmix == "mono" and plan.encoding == "pcm_s16le"
    mean = np.rint((left.astype(np.float64) + right) / 2).astype("<i2")
    assert b"".join(chunks) == mean.tobytes()

    plan, chunks = stream(path, SETTINGS.replace(downmix="first"))
    assert plan.downmix == "first"
    assert b"".join(chunks) == left.astype("<i2").tobytes()
    assert "2 ch first" in plan.describe()


@pytest.mark.parametrize("chunk_ms", [20, 100, 250])
def test_chunks_are_exactly_the_chunk_duration_except_the_last(
    tmp_path: Path, chunk_ms: int
) -> None:
    path = tmp_path / "a.wav"
    data = (tone(200, 1.013, 16000) * 1000).astype(np.int16)
    sf.write(path, data, 16000, subtype="PCM_16")
    settings = SETTINGS.replace(chunk_ms=chunk_ms)
    _, chunks = stream(path, settings)
    size = 16 * chunk_ms * 2
    assert all(len(c) == size for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= size
    assert sum(map(len, chunks)) == len(data) * 2


def test_explicit_encoding_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(440, 0.3, 16000), 16000, subtype="FLOAT")
    plan, chunks = stream(path, SETTINGS.replace(encoding="pcm_mulaw"))
    assert plan.encoding == "pcm_mulaw" and plan.bytes_per_second == 16000
    assert sum(map(len, chunks)) == 4800
    with pytest.raises(ConfigError, match="unknown encoding"):
        plan_stream(path, SETTINGS.replace(encoding="mp3"))


def test_unreadable_files_raise_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        plan_stream(tmp_path / "missing.wav", SETTINGS)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioError) as info:
        plan_stream(junk, SETTINGS)
    assert info.value.path == str(junk)


def test_a_file_cut_short_while_streaming_fails_after_the_good_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, (tone(440, 2.0, 16000) * 9000).astype(np.int16), 16000, subtype="PCM_16")
    plan = plan_stream(path, SETTINGS)
    chunks = iter_chunks(path, plan, 100)
    first = next(chunks)
    assert len(first) == 3200
    with path.open("r+b") as fh:  # the file shrinks under us (e.g. replaced by a copy in progress)
        fh.truncate(44 + 16000)
    with pytest.raises(AudioError, match="ended early"):
        for _ in chunks:
            pass


def write_long_file(path: Path, seconds: int, rate: int) -> None:
    block = (tone(220, 1.0, rate) * 8000).astype(np.int16)
    with sf.SoundFile(path, "w", rate, 1, "PCM_16") as out:
        for _ in range(seconds):
            out.write(block)


@pytest.mark.parametrize("rate", [16000, 6000])
def test_ten_minutes_stream_in_bounded_memory(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "long.wav"
    write_long_file(path, 600, rate)
    plan = plan_stream(path, SETTINGS)
    next(iter_chunks(path, plan, 100))  # warm one-time imports (soxr)
    total = 0
    tracemalloc.start()
    try:
        for chunk in iter_chunks(path, plan, 100):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(total - 600 * 16000 * 2) <= 8  # 19 MB went through
    # the file holds 19.2 MB of samples; what is allocated while streaming is ~one chunk, plus
    # a one-time ~1 MB table inside cffi/soundfile that appears after some thousand reads
    assert peak < 4_000_000, f"peak {peak} bytes"
