"""Where an export goes: a file, a stream, or a folder of per-job files; never half-written.

A file is written under a hidden temporary name in its own folder and renamed over the target
only when complete (``os.replace`` is atomic on one file system), so an error or Ctrl-C
mid-export leaves the old file, or none, never a truncated one. A folder export is staged in a
hidden folder: a new target folder is created by renaming the stage; into an existing folder
the files are moved one by one at the end (each move atomic; a failure while writing leaves
the folder untouched). A folder export never replaces a file that no export wrote
(:mod:`jobrunner.export.owned`) unless told to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import BinaryIO, TextIO

from jobrunner.errors import UsageError
from jobrunner.export.owned import OwnedFiles

#: bytes kept of a source file's name (before the suffix) in a per-job file name
NAME_BYTES = 150
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_WINDOWS_RESERVED = frozenset(
    {
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    }
)


def _encoding(bom: bool) -> str:
    return "utf-8-sig" if bom else "utf-8"


def _exclusive_temp(folder: Path, stem: str, suffix: str, *, directory: bool = False) -> Path:
    """A new hidden path in ``folder`` that nobody else has (created here, umask applies)."""
    for _ in range(100):
        candidate = folder / f".{stem}.{secrets.token_hex(4)}{suffix}"
        try:
            if directory:
                candidate.mkdir()
            else:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise UsageError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def _check_parent(path: Path) -> Path:
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    return parent


@contextlib.contextmanager
def atomic_file(path: Path, *, bom: bool = False) -> Iterator[TextIO]:
    """A text file (UTF-8, ``newline=""``) that appears at ``path`` only once complete."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder: give a file name (or '-' for stdout)")
    try:
        temp = _exclusive_temp(_check_parent(path), path.name, ".part")
    except PermissionError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with open(temp, "w", encoding=_encoding(bom), newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


@contextlib.contextmanager
def text_stream(binary: BinaryIO, *, bom: bool = False) -> Iterator[TextIO]:
    """UTF-8 text (``newline=""``) onto an open binary stream such as stdout, left open."""
    wrapper = io.TextIOWrapper(binary, encoding=_encoding(bom), newline="")
    try:
        yield wrapper
        wrapper.flush()
    finally:
        with contextlib.suppress(ValueError):
            wrapper.detach()


def file_stem(source: str, job_id: int) -> str:
    """A safe file name stem from a source path: its name without the extension, with
    characters no file system accepts replaced by ``_``; ``job-<id>`` when nothing is left."""
    name = PurePath(source.replace("\\", "/")).name
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = _UNSAFE.sub("_", stem).strip(" .")
    stem = stem.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    if not stem:
        return f"job-{job_id}"
    if stem.split(".")[0].casefold() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return stem


class StagedFolder:
    """Per-job files for a folder export, staged until :meth:`publish`.

    Names come from the source path (:func:`file_stem` + suffix). Two jobs with the same name
    (``a/x.wav`` and ``b/x.wav``, or ``x.wav`` and ``x.flac``) are told apart by the job id:
    the first in id order keeps ``x.srt``, the next gets ``x-<job id>.srt``. Names are compared
    case-insensitively, so the folder also copies to case-insensitive file systems.

    A name that exists in the target and that no earlier export wrote (or that was changed
    since) is refused with a :class:`UsageError` before anything is published, unless
    ``overwrite``.
    """

    def __init__(self, target: Path, suffix: str, *, overwrite: bool = False) -> None:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target} is a file: give a folder for one file per job")
        self.target = target
        self.suffix = suffix
        self.merge = target.is_dir()
        parent = target if self.merge else _check_parent(target)
        try:
            self.stage = _exclusive_temp(parent, f"{target.name}.export", ".tmp", directory=True)
        except PermissionError as exc:
            raise UsageError(f"cannot write into {parent}: {exc.strerror}") from exc
        self._taken: set[str] = set()
        self.files = 0
        self.overwrite = overwrite
        self.owned = OwnedFiles.load(target) if self.merge else OwnedFiles(target)

    def name_for(self, source: str, job_id: int) -> str:
        stem = file_stem(source, job_id)
        candidates = (stem, f"{stem}-{job_id}", *(f"{stem}-{job_id}-{n}" for n in range(2, 10**6)))
        for candidate in candidates:
            name = candidate + self.suffix
            if name.casefold() not in self._taken:
                self._taken.add(name.casefold())
                self._check_replaceable(name)
                return name
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_replaceable(self, name: str) -> None:
        if not self.merge or self.owned.may_replace(name):
            return
        path = self.target / name
        if path.is_dir() and not path.is_symlink():
            raise UsageError(f"cannot write {path}: a folder of that name is in the way")
        if not self.overwrite:
            raise UsageError(
                f"{path} exists and was not written by a jobrunner export: nothing written "
                "(give --overwrite to replace such files)"
            )

    def write(self, name: str, pieces: Iterator[str]) -> None:
        digest = hashlib.sha256()
        with open(self.stage / name, "w", encoding="utf-8", newline="") as f:
            for piece in pieces:
                f.write(piece)
                digest.update(piece.encode("utf-8"))
        self.owned.record(name, digest.hexdigest())
        self.files += 1

    def publish(self) -> None:
        """Make the files visible at the target (fsynced first), with the ledger of what an
        export wrote there written before them."""
        for entry in os.scandir(self.stage):
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if not self.merge:
            self.owned.save(self.stage)
            os.rename(self.stage, self.target)
            return
        self.owned.save(self.target)
        for entry in os.scandir(self.stage):
            os.replace(entry.path, self.target / entry.name)
        self.stage.rmdir()

    def discard(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(target: Path, suffix: str, *, overwrite: bool = False) -> Iterator[StagedFolder]:
    """A :class:`StagedFolder` published when the block ends normally, discarded otherwise."""
    folder = StagedFolder(target, suffix, overwrite=overwrite)
    try:
        yield folder
        folder.publish()
    except BaseException:
        folder.discard()
        raise
