"""What is this file, and can it be streamed to the end? Decided at enqueue, not mid-stream.

:func:`probe` reads the header with soundfile (libsndfile) and then proves the end of the audio is
there: libsndfile quietly shortens a truncated WAV, RF64 or Wave64 to the frames it can find (so
their data chunk's declared size is checked against the file's), and a truncated FLAC or MP3
opens fine and fails only when decoding reaches the missing part. A file that would break a
session halfway through (after minutes of realtime streaming) is refused here with a one-line
reason, and its job is born ``invalid``.

Every failure is an :class:`~jobrunner.errors.AudioError` whose ``reason`` is one short line.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import soundfile as sf

from jobrunner.audio.quiet import quiet_c_stderr
from jobrunner.errors import AudioError

#: extensions taken when walking a folder (compared lower-case)
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".ogg", ".oga", ".opus", ".mp3",
        ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf",
        # recordings in formats libsndfile cannot decode: enqueued so they show up as invalid
        ".m4a", ".mp4", ".aac", ".wma", ".amr", ".webm", ".mka", ".3gp",
    }
)  # fmt: skip

_UNSUPPORTED_EXT = {
    ".m4a": "M4A/AAC",
    ".mp4": "MP4/AAC",
    ".aac": "AAC",
    ".wma": "WMA",
    ".amr": "AMR",
    ".webm": "WebM",
    ".mka": "Matroska",
    ".3gp": "3GP",
}
_UNSUPPORTED_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "MP4/M4A (AAC)"),
    (0, b"0&\xb2u\x8ef\xcf\x11", "WMA/ASF"),
    (0, b"#!AMR", "AMR"),
    (0, b"\x1aE\xdf\xa3", "WebM/Matroska"),
)
_CONTAINER_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "WAV"),
    (0, b"RIFX", "WAV"),
    (0, b"RF64", "RF64"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"FORM", "AIFF"),
    (0, b".snd", "AU"),
    (0, b"caff", "CAF"),
    (0, b"ID3", "MP3"),
)

#: subtypes decoded sample-exactly; for the others (compressed) frame counts may be estimates
_EXACT_SUBTYPES = re.compile(r"^(PCM_\w+|FLOAT|DOUBLE|ULAW|ALAW)$")
#: libsndfile's own diagnosis of a data chunk shorter than its header says (AIFF, AU, RF64...)
_SHORT_DATA_LOG = re.compile(
    r"^\s*(data|SSND|Data Size)\s*:\s*\d+\s*\(should be \d+\)"
    r"|frame count .* not equal to frame count|does not match value from",
    re.MULTILINE,
)
_SAMPLE_BYTES = {
    "PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
    "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1,
}  # fmt: skip
_TAIL_FRAMES = 1024
_HEADER_BYTES = 64


@dataclass(frozen=True)
class AudioInfo:
    """The facts the worker needs to stream the file, taken from its header."""

    path: str
    format: str  # libsndfile's major format: WAV, FLAC, OGG, MP3, AIFF...
    subtype: str  # PCM_16, PCM_24, FLOAT, ULAW, VORBIS, MPEG_LAYER_III...
    sample_rate: int
    channels: int
    frames: int
    size_bytes: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file's bytes, read in chunks (never the whole file in memory)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise AudioError(str(path), _os_reason(exc)) from exc


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Header facts of a streamable audio file, or :class:`AudioError` saying why it is not."""
    name = str(path)
    size = _check_file(name)
    try:
        with open(name, "rb") as f:
            head = f.read(_HEADER_BYTES)
            declared = _declared_data(f, head, size)
    except OSError as exc:
        raise AudioError(name, _os_reason(exc)) from exc
    # libmpg123 prints its complaints about a damaged MP3 itself: keep them off the terminal
    quiet = quiet_c_stderr() if _match(head, _CONTAINER_MAGIC) in (None, "MP3") else nullcontext()
    try:
        with quiet, sf.SoundFile(name) as snd:
            info = AudioInfo(
                path=name,
                format=str(snd.format),
                subtype=str(snd.subtype),
                sample_rate=int(snd.samplerate),
                channels=int(snd.channels),
                frames=int(snd.frames),
                size_bytes=size,
            )
            _check_complete(name, snd, info, declared)
    except sf.LibsndfileError as exc:
        raise AudioError(name, _libsndfile_reason(name, head, exc)) from exc
    except (RuntimeError, OSError) as exc:  # soundfile raises RuntimeError for seek/read trouble
        raise AudioError(name, f"corrupt or truncated: {_one_line(str(exc))}") from exc
    if info.sample_rate <= 0 or info.channels <= 0:
        raise AudioError(name, "corrupt header: no sample rate or channels")
    return info


def _check_file(name: str) -> int:
    """The file's size, or an AudioError for what makes it no file to read."""
    try:
        st = os.stat(name)
    except FileNotFoundError as exc:
        if os.path.islink(name):
            target = os.readlink(name)
            raise AudioError(name, f"broken symlink (target {target} does not exist)") from exc
        raise AudioError(name, "file not found") from exc
    except OSError as exc:
        raise AudioError(name, _os_reason(exc)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(name, "not a regular file")
    if st.st_size == 0:
        raise AudioError(name, "empty file (0 bytes)")
    try:
        name.encode(sys.getfilesystemencoding())  # as soundfile hands it to libsndfile
    except UnicodeEncodeError as exc:
        raise AudioError(
            name, "file name is not valid UTF-8: rename the file and enqueue it again"
        ) from exc
    return st.st_size


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    return f"unreadable: {exc.strerror or exc}"


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


#: Sony Wave64: RIFF and WAVE as GUIDs, then chunks of (GUID, u64 size with header), 8-aligned
_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_WAVE = b"wave\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"
_W64_DATA = b"data\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"
#: a RIFF/RF64 data size that means "unknown" (streamed) or "see ds64"
_NO_SIZE = (0, 0xFFFFFFFF)


@dataclass(frozen=True)
class _Layout:
    """How a chunked container lays out its chunks after the file header."""

    first: int  # offset of the first chunk
    id_bytes: int  # 4 (RIFF fourcc) or 16 (Wave64 GUID)
    size_format: str  # "<I" (RIFF) or "<Q" (Wave64)
    size_has_header: bool  # Wave64 chunk sizes count the chunk header too
    align: int  # chunks start on 2-byte (RIFF) or 8-byte (Wave64) boundaries


_RIFF_LAYOUT = _Layout(12, 4, "<I", False, 2)
_W64_LAYOUT = _Layout(40, 16, "<Q", True, 8)


def _chunks(f: BinaryIO, size: int, layout: _Layout) -> Iterator[tuple[bytes, int, int]]:
    """(id, body offset, body bytes) of every chunk whose header lies within the file."""
    header = layout.id_bytes + struct.calcsize(layout.size_format)
    offset = layout.first
    while offset + header <= size:
        f.seek(offset)
        raw = f.read(header)
        if len(raw) < header:
            return
        body = struct.unpack(layout.size_format, raw[layout.id_bytes :])[0]
        if layout.size_has_header:
            if body < header:
                return  # corrupt: libsndfile says so
            body -= header
        yield raw[: layout.id_bytes], offset + header, body
        offset += header + body + (-body % layout.align)


def _declared_data(f: BinaryIO, head: bytes, size: int) -> tuple[int, int] | None:
    """(data offset, declared data bytes) of a WAV, RF64/BW64 or Wave64 file, from its chunks.

    ``None`` for other formats, when the size is a streaming placeholder, or when there is no
    data chunk (libsndfile then reports the error): the completeness check falls back to
    libsndfile's own diagnosis and to decoding the last frames.
    """
    if len(head) >= 40 and head[:16] == _W64_RIFF and head[24:40] == _W64_WAVE:
        for chunk_id, at, body in _chunks(f, size, _W64_LAYOUT):
            if chunk_id == _W64_DATA:
                return at, body
        return None
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
        return None
    ds64_data = 0  # RF64/BW64: the 64-bit data size, in the ds64 chunk
    for chunk_id, at, body in _chunks(f, size, _RIFF_LAYOUT):
        if chunk_id == b"ds64" and body >= 16:
            f.seek(at)
            sizes = f.read(16)  # riff size, data size
            ds64_data = struct.unpack("<QQ", sizes)[1] if len(sizes) == 16 else 0
        elif chunk_id == b"data":
            if body == 0xFFFFFFFF and ds64_data:
                body = ds64_data
            return None if body in _NO_SIZE else (at, body)
    return None


def _check_complete(
    name: str, snd: sf.SoundFile, info: AudioInfo, declared: tuple[int, int] | None
) -> None:
    """Raise AudioError when the audio stops short of what the header promises."""
    exact = bool(_EXACT_SUBTYPES.match(info.subtype))
    if declared is not None and exact:
        offset, data_bytes = declared
        held = max(info.size_bytes - offset, 0)
        if data_bytes > held:
            frame_bytes = _SAMPLE_BYTES.get(info.subtype, 0) * info.channels
            detail = ""
            if frame_bytes:
                promised = data_bytes // frame_bytes / info.sample_rate
                detail = f" ({held // frame_bytes / info.sample_rate:.2f} s of {promised:.2f} s)"
            raise AudioError(
                name,
                f"truncated: header declares {data_bytes} bytes of audio, file holds {held}"
                + detail,
            )
    elif exact and _SHORT_DATA_LOG.search(str(snd.extra_info)):
        raise AudioError(name, "truncated: the audio data is shorter than the header declares")
    if info.frames <= 0:
        raise AudioError(name, "no audio (0 frames)")
    if declared is not None and exact:
        return  # the data chunk is all there and PCM decodes byte for byte: nothing to prove
    want = min(info.frames, _TAIL_FRAMES)
    try:
        snd.seek(info.frames - want)
        got = len(snd.read(want, dtype="int16", always_2d=True))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(
            name,
            f"truncated or corrupt: the end of the audio cannot be decoded ({_one_line(str(exc))})",
        ) from exc
    if got == 0 or (exact and got < want):
        raise AudioError(
            name, f"truncated or corrupt: the last {want} frames cannot be decoded (got {got})"
        )


def _libsndfile_reason(name: str, head: bytes, exc: sf.LibsndfileError) -> str:
    message = _one_line(getattr(exc, "error_string", "") or str(exc))
    ext = Path(name).suffix.lower()
    container = _match(head, _CONTAINER_MAGIC)
    if "not recognised" in message.lower():
        unsupported = _match(head, _UNSUPPORTED_MAGIC) or _UNSUPPORTED_EXT.get(ext)
        if unsupported and container is None:
            return f"unsupported format: {unsupported} cannot be decoded (convert to WAV or FLAC)"
        if container is not None:
            return f"corrupt {container} file: format not recognised"
        if _looks_like_text(head):
            return "not an audio file (looks like text)"
        return "not an audio file (format not recognised)"
    if "is not a regular file" in message.lower():
        # libsndfile's catch-all when a decoder (MP3, Ogg) rejects the data of a regular file
        if _looks_like_text(head):
            return "not an audio file (looks like text)"
        return f"corrupt {container or ext.lstrip('.').upper()} file: cannot be decoded"
    if "malformed" in message.lower():
        return f"corrupt or truncated {container or ext.lstrip('.').upper()} file: malformed"
    message = re.sub(r"^Error in [\w/]+ file\.\s*", "", message)
    return f"corrupt {container + ' ' if container else ''}file: {message}"


def _match(head: bytes, table: tuple[tuple[int, bytes, str], ...]) -> str | None:
    for offset, magic, name in table:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2") and table is _CONTAINER_MAGIC:
        return "MP3"
    return None


def _looks_like_text(head: bytes) -> bool:
    for cut in range(4):  # the header may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return False
