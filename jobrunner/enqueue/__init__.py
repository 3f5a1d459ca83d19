"""Turn paths into jobs: walk, filter, probe, hash, insert idempotently.

Rules (the CLI's ``enqueue --help`` repeats them):

* Paths named on the command line or in a manifest are always taken, whatever their name. Folders
  are walked (recursively unless ``recursive=False``) for files with an audio extension, matched
  case-insensitively; hidden entries, obvious temp files, other extensions, symlinked folders
  (never followed, to avoid loops) and files filtered out by ``include``/``exclude`` are skipped
  and counted by reason. Globs match the path relative to the walked folder or the file name,
  case-insensitively.
* A path on the command line that does not exist is a :class:`UsageError`, raised before any
  work. A manifest entry that does not exist becomes an ``invalid`` job ("file not found"): a
  manifest is data, and one stale line must not stop the batch.
* Every candidate is probed and hashed (threads: libsndfile and hashlib release the GIL). Bad
  input never stops the batch: it becomes an ``invalid`` job with a one-line reason.
* Idempotency key = content sha256 + ``Settings.fingerprint()``: the same audio with the same
  result-changing settings is a duplicate wherever it lives; changed settings make a new job.
  Invalid files are keyed by path (and content when readable), so each bad file is reported
  once per path and fixing it makes a new job.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobrunner.audio.probe import AUDIO_EXTENSIONS, AudioInfo, probe, sha256_file
from jobrunner.config import Settings
from jobrunner.errors import AudioError, UsageError
from jobrunner.formatting import format_duration
from jobrunner.store import NewJob, Store

Outcome = Literal["new", "duplicate", "invalid", "skipped"]

TEMP_SUFFIXES = frozenset(
    {".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".swo"}
)
#: files per insert transaction: progress survives an interruption, the lock is held briefly
BATCH = 1000


@dataclass(frozen=True)
class FileOutcome:
    path: str
    outcome: Outcome
    job_id: int | None = None
    new: bool = False  # a job was created for this file (also for a new invalid job)
    reason: str | None = None  # why invalid / skipped
    duration_s: float | None = None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "outcome": self.outcome,
            "job_id": self.job_id,
            "new": self.new,
            "reason": self.reason,
            "duration_s": self.duration_s,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class EnqueueSummary:
    new: int = 0  # valid files that became new queued jobs
    duplicates: int = 0  # valid files whose job already existed
    invalid: int = 0  # files that cannot be streamed (new or already recorded)
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    audio_s: float = 0.0  # audio duration of the new jobs
    dry_run: bool = False

    def line(self) -> str:
        """The one summary line the CLI ends with."""
        verb = "would enqueue" if self.dry_run else "enqueued"
        skipped = f"{self.skipped} skipped"
        if self.skipped_by_reason:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_by_reason.items()))
            skipped += f" ({parts})"
        return (
            f"{verb} {self.new} new ({format_duration(self.audio_s)} of audio), "
            f"{self.duplicates} duplicates, {self.invalid} invalid, {skipped}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "audio_s": self.audio_s,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class EnqueueResult:
    summary: EnqueueSummary
    files: tuple[FileOutcome, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "jobrunner.enqueue/1",
            "summary": self.summary.to_json(),
            "files": [f.to_json() for f in self.files],
        }


# -- finding files ----------------------------------------------------------------------------


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


@dataclass
class _Found:
    files: list[str] = field(default_factory=list)  # absolute paths, first-seen order
    missing: list[str] = field(default_factory=list)  # manifest entries that do not exist
    skipped: list[FileOutcome] = field(default_factory=list)


def _walk(
    root: Path, found: _Found, recursive: bool, include: Sequence[str], exclude: Sequence[str]
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
            found.skipped.append(FileOutcome(folder, "skipped", reason=why))
            continue
        subfolders: list[str] = []
        for entry in entries:
            reason = skip_reason(entry.name)
            is_dir = entry.is_dir()
            if reason is None and is_dir and entry.is_symlink():
                reason = "symlinked folder"
            if reason is not None:
                found.skipped.append(FileOutcome(entry.path, "skipped", reason=reason))
                continue
            if is_dir:
                if recursive:
                    subfolders.append(entry.path)
                continue
            if os.path.splitext(entry.name)[1].lower() not in AUDIO_EXTENSIONS:
                found.skipped.append(FileOutcome(entry.path, "skipped", reason="not audio"))
                continue
            if include or exclude:
                rel = os.path.relpath(entry.path, top).replace(os.sep, "/")
                if (include and not _matches(include, rel, entry.name)) or (
                    exclude and _matches(exclude, rel, entry.name)
                ):
                    found.skipped.append(FileOutcome(entry.path, "skipped", reason="excluded"))
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
) -> _Found:
    """Candidates from paths and an optional manifest (``(text, folder)``)."""
    named = [Path(p).expanduser() for p in paths]
    for path in named:
        if not os.path.lexists(path):
            raise UsageError(f"no such file or folder: {path}")
    entries: list[tuple[Path, bool]] = [(p, False) for p in named]
    if manifest is not None:
        entries += [(p, True) for p in read_manifest(*manifest)]
    include = [g.lower() for g in include]
    exclude = [g.lower() for g in exclude]
    found = _Found()
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


# -- probing and inserting --------------------------------------------------------------------


@dataclass(frozen=True)
class _Probed:
    path: str
    info: AudioInfo | None
    sha256: str | None
    reason: str | None
    size_bytes: int | None = None


def inspect_file(path: str) -> _Probed:
    """Probe and hash one file; never raises for a bad file (the reason is returned)."""
    try:
        info: AudioInfo | None = probe(path)
        reason = None
    except AudioError as exc:
        info, reason = None, exc.reason
    digest = size = None
    if info is not None or os.path.isfile(path):
        try:
            digest = sha256_file(path)
            size = os.path.getsize(path)
        except (AudioError, OSError) as exc:
            info, reason = None, reason or getattr(exc, "reason", str(exc))
    return _Probed(path, info, digest, reason, size)


def idempotency_key(fingerprint: str, sha256: str | None, path: str, valid: bool) -> str:
    if valid and sha256 is not None:
        return f"{sha256}:{fingerprint}"
    # an unusable file is unusable whatever the settings: one invalid job per path and content
    marker = hashlib.sha256(f"{path}\0{sha256 or ''}".encode()).hexdigest()
    return f"invalid:{marker}"


@dataclass(frozen=True)
class _JobDefaults:
    """What every job of one enqueue call shares (computed once, not per file)."""

    fingerprint: str
    settings: dict[str, Any]
    max_attempts: int
    label: str | None
    priority: int


def _new_job(p: _Probed, d: _JobDefaults) -> NewJob:
    info = p.info
    return NewJob(
        path=p.path,
        idempotency_key=idempotency_key(d.fingerprint, p.sha256, p.path, info is not None),
        fingerprint=d.fingerprint,
        settings=d.settings,
        max_attempts=d.max_attempts,
        sha256=p.sha256,
        size_bytes=p.size_bytes,
        format=None if info is None else info.format,
        subtype=None if info is None else info.subtype,
        sample_rate=None if info is None else info.sample_rate,
        channels=None if info is None else info.channels,
        frames=None if info is None else info.frames,
        duration_s=None if info is None else info.duration_s,
        label=d.label,
        priority=d.priority,
        reason=p.reason,
        error_kind=None if p.reason is None else AudioError.kind,
    )


def _batches(items: Iterator[_Probed], size: int) -> Iterator[list[_Probed]]:
    batch: list[_Probed] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def enqueue_paths(
    store: Store | None,
    settings: Settings,
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    manifest: tuple[str, Path] | None = None,
    label: str | None = None,
    priority: int = 0,
    dry_run: bool = False,
    threads: int | None = None,
) -> EnqueueResult:
    """Enqueue every audio file under ``paths``; see the module docstring for the rules.

    ``dry_run`` probes and reports, writing nothing (``store`` may then be ``None``: a database
    that does not exist yet holds no duplicates).
    """
    found = find_files(
        paths, recursive=recursive, include=include, exclude=exclude, manifest=manifest
    )
    defaults = _JobDefaults(
        settings.fingerprint(), settings.result_settings(), settings.max_attempts, label, priority
    )
    workers = threads or min(8, 2 * (os.cpu_count() or 1))
    outcomes: list[FileOutcome] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        probed = _ordered_map(pool, inspect_file, found.files, window=4 * BATCH)
        missing = (_Probed(p, None, None, "file not found") for p in found.missing)
        for batch in _batches(_chain(probed, missing), BATCH):
            new_jobs = [_new_job(p, defaults) for p in batch]
            if dry_run:
                keys = [j.idempotency_key for j in new_jobs]
                known = {} if store is None else store.existing_jobs(keys)
                seen: set[str] = set()
                results = []
                for job in new_jobs:
                    key = job.idempotency_key
                    results.append((known.get(key), key not in known and key not in seen))
                    seen.add(key)
            else:
                assert store is not None, "enqueue needs a store unless dry_run"
                results = [(r.job_id, r.new) for r in store.enqueue_many(new_jobs)]
            for p, (job_id, new) in zip(batch, results, strict=True):
                outcomes.append(_outcome(p, job_id, new))
    outcomes.extend(found.skipped)
    return EnqueueResult(_summarise(outcomes, dry_run), tuple(outcomes))


def _ordered_map(
    pool: ThreadPoolExecutor, fn: Callable[[str], _Probed], items: Sequence[str], window: int
) -> Iterator[_Probed]:
    """``pool.map`` with at most ``window`` calls in flight (1M files must not mean 1M futures)."""
    pending: deque[Future[_Probed]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chain(*parts: Iterable[_Probed]) -> Iterator[_Probed]:
    for part in parts:
        yield from part


def _outcome(p: _Probed, job_id: int | None, new: bool) -> FileOutcome:
    duration = None if p.info is None else p.info.duration_s
    if p.reason is not None:
        return FileOutcome(p.path, "invalid", job_id, new, p.reason, None, p.sha256)
    return FileOutcome(p.path, "new" if new else "duplicate", job_id, new, None, duration, p.sha256)


def _summarise(outcomes: Sequence[FileOutcome], dry_run: bool) -> EnqueueSummary:
    counts = Counter(o.outcome for o in outcomes)
    skipped = Counter(o.reason or "other" for o in outcomes if o.outcome == "skipped")
    return EnqueueSummary(
        new=counts["new"],
        duplicates=counts["duplicate"],
        invalid=counts["invalid"],
        skipped=counts["skipped"],
        skipped_by_reason=dict(skipped),
        audio_s=sum((o.duration_s or 0.0 for o in outcomes if o.outcome == "new"), 0.0),
        dry_run=dry_run,
    )
