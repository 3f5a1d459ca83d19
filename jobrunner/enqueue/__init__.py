"""Turn paths into jobs: the ``enqueue`` verb (walk, filter, probe, hash, insert idempotently).

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
  input never stops the batch: it becomes an ``invalid`` job with a one-line reason. A file name
  that is not UTF-8 is such input (libsndfile cannot open it); its path is recorded with
  ``\\xNN`` escapes for the bytes that are not (:func:`storable`).
* Idempotency key = content sha256 + ``Settings.fingerprint()``: the same audio with the same
  result-changing settings is a duplicate wherever it lives; changed settings make a new job.
  Invalid files are keyed by path (and content when readable), so each bad file is reported
  once per path and fixing it makes a new job.

Modules: ``discover`` (which files), ``inspect`` (probe, hash, key), ``results`` (what it did).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobrunner.config import Settings
from jobrunner.enqueue.discover import find_files, read_manifest, skip_reason, storable
from jobrunner.enqueue.inspect import Inspected, idempotency_key, inspect_file
from jobrunner.enqueue.results import EnqueueOutcome, EnqueueResult, EnqueueSummary, FileOutcome
from jobrunner.errors import AudioError
from jobrunner.store import NewJob, Store

#: files per insert transaction: progress survives an interruption, the lock is held briefly
BATCH = 1000


@dataclass(frozen=True)
class _JobDefaults:
    """What every job of one enqueue call shares (computed once, not per file)."""

    fingerprint: str
    settings: dict[str, Any]
    max_attempts: int
    label: str | None
    priority: int


def _new_job(p: Inspected, d: _JobDefaults) -> NewJob:
    info = p.info
    return NewJob(
        path=p.path,
        idempotency_key=idempotency_key(d.fingerprint, p.sha256, p.path, info is not None),
        fingerprint=d.fingerprint,
        settings=d.settings,
        max_attempts=d.max_attempts,
        sha256=p.sha256,
        size_bytes=p.size_bytes,
        mtime_ns=p.mtime_ns,
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
        missing = (Inspected(storable(p), None, None, "file not found") for p in found.missing)
        for batch in _batches(_chain(probed, missing), BATCH):
            new_jobs = [_new_job(p, defaults) for p in batch]
            if dry_run:
                results = _dry_run(store, new_jobs)
            else:
                assert store is not None, "enqueue needs a store unless dry_run"
                results = [(r.job_id, r.new) for r in store.enqueue_many(new_jobs)]
            for p, (job_id, new) in zip(batch, results, strict=True):
                outcomes.append(_outcome(p, job_id, new))
    outcomes.extend(found.skipped)
    return EnqueueResult(EnqueueSummary.of(outcomes, dry_run), tuple(outcomes))


def _dry_run(store: Store | None, new_jobs: Sequence[NewJob]) -> list[tuple[int | None, bool]]:
    """(existing job id, would be new) per job, writing nothing."""
    keys = [j.idempotency_key for j in new_jobs]
    known = {} if store is None else store.existing_jobs(keys)
    seen: set[str] = set()
    results = []
    for key in keys:
        results.append((known.get(key), key not in known and key not in seen))
        seen.add(key)
    return results


def _batches(items: Iterator[Inspected], size: int) -> Iterator[list[Inspected]]:
    batch: list[Inspected] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ordered_map(
    pool: ThreadPoolExecutor, fn: Callable[[str], Inspected], items: Sequence[str], window: int
) -> Iterator[Inspected]:
    """``pool.map`` with at most ``window`` calls in flight (1M files must not mean 1M futures)."""
    pending: deque[Future[Inspected]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chain(*parts: Iterable[Inspected]) -> Iterator[Inspected]:
    for part in parts:
        yield from part


def _outcome(p: Inspected, job_id: int | None, new: bool) -> FileOutcome:
    duration = None if p.info is None else p.info.duration_s
    if p.reason is not None:
        return FileOutcome(p.path, "invalid", job_id, new, p.reason, None, p.sha256)
    return FileOutcome(p.path, "new" if new else "duplicate", job_id, new, None, duration, p.sha256)


__all__ = [
    "BATCH",
    "EnqueueOutcome",
    "EnqueueResult",
    "EnqueueSummary",
    "FileOutcome",
    "enqueue_paths",
    "find_files",
    "idempotency_key",
    "inspect_file",
    "read_manifest",
    "skip_reason",
    "storable",
]
