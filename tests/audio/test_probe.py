"""probe(): real files written with soundfile, then damaged the ways real files get damaged."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jobrunner.audio.probe import AudioInfo, probe, sha256_file
from jobrunner.errors import AudioError

RATE = 16000


def tone(seconds: float = 1.0, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


def write(path: Path, seconds: float = 1.0, **kwargs: object) -> Path:
    rate = int(kwargs.pop("rate", RATE))  # type: ignore[call-overload]
    channels = int(kwargs.pop("channels", 1))  # type: ignore[call-overload]
    sf.write(path, tone(seconds, rate, channels), rate, **kwargs)  # type: ignore[arg-type]
    return path


def cut(path: Path, keep: int | float) -> Path:
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])
    return path


@pytest.mark.parametrize(
    ("name", "kwargs", "fmt", "subtype", "channels", "rate"),
    [
        ("a.wav", {"subtype": "PCM_16"}, "WAV", "PCM_16", 1, 16000),
        ("b.WAV", {"subtype": "FLOAT", "channels": 2, "rate": 48000}, "WAV", "FLOAT", 2, 48000),
        ("c.wav", {"subtype": "ULAW", "rate": 8000}, "WAV", "ULAW", 1, 8000),
        ("d.flac", {"subtype": "PCM_24", "rate": 44100}, "FLAC", "PCM_24", 1, 44100),
        ("e.ogg", {"format": "OGG", "subtype": "VORBIS"}, "OGG", "VORBIS", 1, 16000),
        ("f.aiff", {"subtype": "PCM_16", "channels": 2}, "AIFF", "PCM_16", 2, 16000),
        ("g.mp3", {"format": "MP3"}, "MP3", "MPEG_LAYER_III", 1, 16000),
        ("h.w64", {"format": "W64", "subtype": "PCM_24"}, "W64", "PCM_24", 1, 16000),
        (
            "i.rf64",
            {"format": "RF64", "subtype": "PCM_16", "channels": 2},
            "RF64",
            "PCM_16",
            2,
            16000,
        ),
    ],
)
def test_good_files(
    tmp_path: Path,
    name: str,
    kwargs: dict[str, object],
    fmt: str,
    subtype: str,
    channels: int,
    rate: int,
) -> None:
    path = write(tmp_path / name, 1.5, **kwargs)
    info = probe(path)
    assert isinstance(info, AudioInfo)
    assert (info.format, info.subtype, info.channels, info.sample_rate) == (
        fmt,
        subtype,
        channels,
        rate,
    )
    assert info.duration_s == pytest.approx(1.5, abs=0.06)  # mp3 pads a little
    assert info.size_bytes == path.stat().st_size


def test_wav_with_chunks_around_the_data_is_not_called_truncated(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.wav", 1.0, subtype="PCM_16").read_bytes()
    fmt_chunk, data_chunk = plain[12:36], plain[36:]
    junk = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"  # odd size: padded
    trailer = b"LIST" + struct.pack("<I", 4) + b"INFO"
    body = b"WAVE" + fmt_chunk + junk + data_chunk + trailer
    path = tmp_path / "chunky.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert probe(path).frames == RATE


def make_bad(kind: str, tmp: Path) -> Path:
    if kind == "empty":
        path = tmp / "empty.wav"
        path.write_bytes(b"")
    elif kind == "truncated_wav":
        path = cut(write(tmp / "t.wav", 2.0, subtype="PCM_16"), 0.5)
    elif kind == "header_only_wav":
        path = cut(write(tmp / "h.wav", 2.0, subtype="PCM_16"), 44)
    elif kind == "truncated_w64":
        path = cut(write(tmp / "t.w64", 2.0, format="W64", subtype="PCM_16"), 0.5)
    elif kind == "truncated_rf64":
        path = cut(write(tmp / "t.rf64", 2.0, format="RF64", subtype="PCM_16"), 0.5)
    elif kind == "truncated_flac":
        path = cut(write(tmp / "t.flac", 2.0), 0.5)
    elif kind == "truncated_ogg":
        path = cut(write(tmp / "t.ogg", 2.0, format="OGG", subtype="VORBIS"), 0.5)
    elif kind == "truncated_aiff":
        path = cut(write(tmp / "t.aiff", 2.0, subtype="PCM_16"), 0.5)
    elif kind == "corrupt_wav":
        data = bytearray(write(tmp / "c.wav", 1.0, subtype="PCM_16").read_bytes())
        data[20:22] = b"\x99\x00"  # fmt chunk: an unknown codec tag
        path = tmp / "c.wav"
        path.write_bytes(bytes(data))
    elif kind == "garbled_riff":
        path = tmp / "g.wav"
        path.write_bytes(b"RIFF\x10\x00\x00\x00XXXX" + os.urandom(2000))
    elif kind == "text":
        path = tmp / "notes.wav"
        path.write_text("speaker,start,end\nalice,0.0,1.5\n" * 20)
    elif kind == "text_mp3":
        path = tmp / "notes.mp3"
        path.write_text("hello, these are my notes\n")
    elif kind == "binary":
        path = tmp / "blob.flac"
        path.write_bytes(b"\x00\x01\x02\x03" + bytes(range(256)) * 8)
    elif kind == "m4a":
        path = tmp / "voice.m4a"
        path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 2000)
    elif kind == "broken_symlink":
        path = tmp / "gone.wav"
        path.symlink_to(tmp / "never-there.wav")
    elif kind == "fifo":
        path = tmp / "pipe.wav"
        os.mkfifo(path)
    else:
        raise AssertionError(kind)
    return path


BAD = {
    "empty": "empty file (0 bytes)",
    "truncated_wav": "truncated: header declares 64000 bytes of audio, file holds 31978",
    "header_only_wav": "truncated: header declares 64000 bytes of audio, file holds 0",
    "truncated_w64": "truncated: header declares 64000 bytes of audio, file holds 31948 "
    "(1.00 s of 2.00 s)",
    "truncated_rf64": "truncated: header declares 64000 bytes of audio, file holds 31948 "
    "(1.00 s of 2.00 s)",
    "truncated_flac": "truncated or corrupt",
    "truncated_ogg": "corrupt or truncated Ogg file",
    "truncated_aiff": "truncated",
    "corrupt_wav": "corrupt or truncated WAV file",
    "garbled_riff": "corrupt WAV file",
    "text": "not an audio file (looks like text)",
    "text_mp3": "not an audio file (looks like text)",
    "binary": "not an audio file (format not recognised)",
    "m4a": "unsupported format: MP4/M4A (AAC)",
    "broken_symlink": "broken symlink",
    "fifo": "not a regular file",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_has_a_one_line_reason(tmp_path: Path, kind: str) -> None:
    path = make_bad(kind, tmp_path)
    with pytest.raises(AudioError) as caught:
        probe(path)
    reason = caught.value.reason
    assert reason.startswith(BAD[kind]), reason
    assert "\n" not in reason and caught.value.path == str(path)


def test_sha256_is_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    payload = os.urandom(3 * 1024 * 1024 + 7)
    path.write_bytes(payload)
    assert sha256_file(path) == hashlib.sha256(payload).hexdigest()
    with pytest.raises(AudioError, match="unreadable"):
        sha256_file(tmp_path / "missing.wav")
