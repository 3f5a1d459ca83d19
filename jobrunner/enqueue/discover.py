"""Which files an enqueue takes: walk folders, filter names and globs, read manifests.

Nothing here opens a file: candidates are chosen by name and kind alone, so a 10,000-file folder
is listed in milliseconds and every skipped entry is counted with its reason.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jobrunner.audio.probe import AUDIO_EXTENSIONS
from jobrunner.enqueue.results import FileOutcome
from jobrunner.errors import UsageError

TEMP_SUFFIXES = frozenset(
    {".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".swo"}
)


def storable(text: str) -> str:
    """``text`` as a database can hold it. The OS hands over a file name whose bytes are not
    UTF-8 with those bytes as lone surrogates (``os.fsdecode``), which neither SQLite nor
    PostgreSQL accepts; they are written as ``\\xNN`` escapes instead (``caf\\xe9.wav``), which
    tables, JSON and exports show as they are. Any other text comes back unchanged."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte: not from the OS
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Candidates:
    """What :func:`find_files` found, in first-seen order."""

    files: list[str] = field(default_factory=list)  # absolute paths, as the OS gave them
    missing: list[str] = field(default_factory=list)  # manifest entries that do not exist
    skipped: list[FileOutcome] = field(default_factory=list)  # paths already storable()


def skip_reason(name: str) -> str | None:
    """Why a walked entry is not a candidate by its name alone, or None."""
    if name.startswith("."):
        return "hidden"
    lower = name.lower()
    if (
        name.endswith("~")
        or name.startswith("~$")
        or (name.startswith("#") and name.endswith("#"))
        or os.path.splitext(lower)[1] in TEMP_SUFFIXES
    ):
        return "temp"
    return None


def _matches(globs: Sequence[str], rel: str, name: str) -> bool:
    rel, name = rel.lower(), name.lower()
    return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(name, g) for g in globs)


def _walk(
    root: Path,
    found: Candidates,
    recursive: bool,
    include: Sequence[str],
    exclude: Sequence[str],
) -> None:
    # plain strings, not Path objects: this loop runs once per file of a 10,000-file folder
    top = str(root)
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            why = f"unreadable folder: {exc.strerror}"
            found.skipped.append(FileOutcome(storable(folder), "skipped", reason=why))
            continue
        subfolders: list[str] = []
        for entry in entries:
            reason = skip_reason(entry.name)
            is_dir = entry.is_dir()
            if reason is None and is_dir and entry.is_symlink():
                reason = "symlinked folder"
            if reason is not None:
                found.skipped.append(FileOutcome(storable(entry.path), "skipped", reason=reason))
                continue
            if is_dir:
                if recursive:
                    subfolders.append(entry.path)
                continue
            if os.path.splitext(entry.name)[1].lower() not in AUDIO_EXTENSIONS:
                skip = FileOutcome(storable(entry.path), "skipped", reason="not audio")
                found.skipped.append(skip)
                continue
            if include or exclude:
                rel = os.path.relpath(entry.path, top).replace(os.sep, "/")
                if (include and not _matches(include, rel, entry.name)) or (
                    exclude and _matches(exclude, rel, entry.name)
                ):
                    skip = FileOutcome(storable(entry.path), "skipped", reason="excluded")
                    found.skipped.append(skip)
                    continue
            found.files.append(entry.path)
        stack.extend(reversed(subfolders))  # depth-first, in name order


def read_manifest(text: str, base: Path) -> list[Path]:
    """Paths from a manifest: a CSV with a ``path`` column, or one path per line (``#`` starts
    a comment line). Relative paths are relative to ``base`` (the manifest's folder)."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    header = [h.strip().lower() for h in next(csv.reader([first]), [])]
    if "path" in header and ("," in first or "\t" in first or len(header) == 1):
        dialect = "excel-tab" if "\t" in first and "," not in first else "excel"
        rows = csv.DictReader(io.StringIO(text), dialect=dialect)
        column = next(name for name in rows.fieldnames or [] if name.strip().lower() == "path")
        raw = [(row.get(column) or "").strip() for row in rows]
    else:
        raw = [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [base / Path(entry).expanduser() for entry in raw if entry]


def find_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    manifest: tuple[str, Path] | None = None,
) -> Candidates:
    """Candidates from paths and an optional manifest (``(text, folder)``).

    A path named here that does not exist is a :class:`UsageError`, raised before any work; a
    manifest entry that does not exist is only listed in ``missing`` (a manifest is data).
    """
    named = [Path(p).expanduser() for p in paths]
    for path in named:
        if not os.path.lexists(path):
            raise UsageError(f"no such file or folder: {path}")
    entries: list[tuple[Path, bool]] = [(p, False) for p in named]
    if manifest is not None:
        entries += [(p, True) for p in read_manifest(*manifest)]
    include = [g.lower() for g in include]
    exclude = [g.lower() for g in exclude]
    found = Candidates()
    for path, from_manifest in entries:
        absolute = Path(os.path.abspath(path))
        if path.is_dir():
            _walk(absolute, found, recursive, include, exclude)
        elif from_manifest and not os.path.lexists(absolute):
            found.missing.append(str(absolute))
        else:
            found.files.append(str(absolute))
    found.files = list(dict.fromkeys(found.files))
    return found
