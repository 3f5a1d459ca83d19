"""Reference transcripts for the accuracy section: where they come from, and whose they are.

Two sources, one at a time:

* ``--references FILE``: a TSV of ``path<TAB>text`` lines (an optional ``path<TAB>text``
  header; blank lines and ``#`` comments skipped) or JSONL of ``{"path": ..., "text": ...}``
  objects (or ``"turns": [...]``), told apart by the suffix (``.jsonl``/``.ndjson``/``.json``)
  or, for any other suffix, by whether the first line starts with ``{``;
* otherwise sidecars: ``NAME.txt`` beside each queued audio file (``call.wav`` -> ``call.txt``).

A text may mark its turns with `` | ``; once any reference does, every reference is read as
turn-marked (one without a separator is one turn), so the report can count split and merged
turns. Paths in a references file are relative to its folder; a bare file name that names no
queued file matches the one queued file of that name, if exactly one has it.

Anything wrong with the file is a :class:`~jobrunner.errors.UsageError` naming the file and the
line: a reference that silently went missing would skew the figures it was given for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobrunner.errors import UsageError
from jobrunner.store.report_queries import ReportJob

TURN_SEPARATOR: Final = " | "
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
SIDECAR_SOURCE: Final = "sidecar files (NAME.txt beside each audio file)"


@dataclass(frozen=True)
class Reference:
    path: str  # as written in the references file (or the sidecar's audio file)
    turns: tuple[str, ...]
    line: int | None = None

    @property
    def text(self) -> str:
        return " ".join(self.turns)


@dataclass(frozen=True)
class References:
    """References matched to the jobs of a report."""

    source: str
    by_job: dict[int, Reference]
    unmatched: tuple[str, ...]  # references that name no job of the selection
    marks_turns: bool


def _split_turns(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(TURN_SEPARATOR))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{name}:{line}: not UTF-8 text") from exc


def _read(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{what} not found: {path}") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{what} {path} is a folder: give a TSV or JSONL file") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    return _decode(data, str(path))


def _check_duplicate(seen: dict[str, int], path: str, name: str, line: int) -> None:
    if path in seen:
        raise UsageError(f"{name}:{line}: {path!r} already has a reference on line {seen[path]}")
    seen[path] = line


def parse_tsv(text: str, name: str) -> list[Reference]:
    """``path<TAB>text`` lines; see the module docstring."""
    refs: list[Reference] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        path, tab, body = line.partition("\t")
        if not refs and not seen and path.strip().lower() == "path" and tab:
            continue  # a header
        if not tab:
            raise UsageError(f"{name}:{number}: expected PATH<TAB>TEXT, found no tab")
        path = path.strip()
        if not path:
            raise UsageError(f"{name}:{number}: the path before the tab is empty")
        _check_duplicate(seen, path, name, number)
        refs.append(Reference(path, _split_turns(body), number))
    return refs


def _json_turns(obj: dict[str, Any]) -> tuple[str, ...] | None:
    if isinstance(obj.get("text"), str):
        return _split_turns(obj["text"])
    turns = obj.get("turns")
    if isinstance(turns, list) and all(isinstance(t, str) for t in turns):
        return tuple(t.strip() for t in turns)
    return None


def parse_jsonl(text: str, name: str) -> list[Reference]:
    """One JSON object per line with ``path`` and ``text`` (or ``turns``)."""
    refs: list[Reference] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name}:{number}: not JSON ({exc.msg})") from exc
        turns = _json_turns(obj) if isinstance(obj, dict) else None
        path = obj.get("path") if isinstance(obj, dict) else None
        if not isinstance(path, str) or not path.strip() or turns is None:
            raise UsageError(
                f'{name}:{number}: expected {{"path": "...", "text": "..."}} '
                '(or "turns": ["...", ...])'
            )
        _check_duplicate(seen, path.strip(), name, number)
        refs.append(Reference(path.strip(), turns, number))
    return refs


def load_file(path: Path) -> list[Reference]:
    """The references in a TSV or JSONL file."""
    text = _read(path, "references file")
    first = next((line.lstrip() for line in text.splitlines() if line.strip()), "")
    jsonl = path.suffix.lower() in _JSONL_SUFFIXES or (
        path.suffix.lower() not in {".tsv", ".txt", ".tab"} and first.startswith("{")
    )
    return parse_jsonl(text, str(path)) if jsonl else parse_tsv(text, str(path))


def match(
    refs: Sequence[Reference], jobs: Iterable[ReportJob], base: Path, source: str
) -> References:
    """Give each reference to the jobs of the file it names (relative paths from ``base``)."""
    by_path: dict[str, list[int]] = {}
    by_name: dict[str, set[str]] = {}
    for job in jobs:
        by_path.setdefault(job.path, []).append(job.id)
        by_name.setdefault(os.path.basename(job.path), set()).add(job.path)
    matched: dict[int, Reference] = {}
    unmatched: list[str] = []
    for ref in refs:
        target = os.path.normpath(os.path.join(base, os.path.expanduser(ref.path)))
        if target not in by_path and os.sep not in ref.path and "/" not in ref.path:
            named = by_name.get(ref.path, set())
            target = next(iter(named)) if len(named) == 1 else target
        if target not in by_path:
            unmatched.append(ref.path)
            continue
        for job_id in by_path[target]:
            matched[job_id] = ref
    marks = any(len(r.turns) > 1 for r in refs)
    return References(source, matched, tuple(unmatched), marks)


def from_file(path: Path, jobs: Sequence[ReportJob]) -> References:
    return match(load_file(path), jobs, Path(os.path.abspath(path)).parent, str(path))


def sidecar_path(audio: str) -> Path:
    return Path(audio).with_suffix(".txt")


def from_sidecars(jobs: Sequence[ReportJob]) -> References:
    """``NAME.txt`` beside each job's audio file, where there is one."""
    found: dict[int, Reference] = {}
    for job in jobs:
        sidecar = sidecar_path(job.path)
        if sidecar.is_file():
            text = _read(sidecar, "reference").strip()
            found[job.id] = Reference(job.path, _split_turns(text))
    marks = any(len(r.turns) > 1 for r in found.values())
    return References(SIDECAR_SOURCE, found, (), marks)


__all__ = [
    "TURN_SEPARATOR",
    "Reference",
    "References",
    "from_file",
    "from_sidecars",
    "load_file",
    "match",
    "parse_jsonl",
    "parse_tsv",
]
