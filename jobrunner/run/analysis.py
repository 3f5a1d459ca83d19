"""Speech maps computed once per content and applied to transcripts: the blocking half.

Three verbs, each reading files and the database (call them in a thread from async code):

* :func:`map_target` maps a job's file and stores the map under its content key
  (:func:`map_key`: content sha256, channel mode, detector identity), after checking the file
  is still the content that was enqueued (size and mtime as recorded, when recorded): a map
  stored under a hash must be the map of that hash;
* :func:`align_job` aligns a job's current transcript with its content's map
  (:func:`jobrunner.timing.speech.time_job`) and stores the turns' speech times and the
  job's coverage verdict, fenced by the attempt that produced the transcript;
* :func:`analyze` does both for a selection of jobs, with progress: ``jobrunner analyze``
  and ``jobrunner enqueue --analyze``.

A file that cannot be mapped (moved, changed, unreadable) never fails its job: the job keeps
null speech fields and a null verdict, and :func:`analyze` reports the file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from jobrunner.errors import AudioError
from jobrunner.store import JobState, MapTarget, Selector, Store, StoredMap, TurnSpeech

if TYPE_CHECKING:  # the detector (numpy, soundfile) loads when a file is mapped or aligned
    from jobrunner.audio.speechmap import ChannelMode, SpeechMap
    from jobrunner.timing.coverage import Coverage

#: jobs read per page by :func:`analyze` (and names per selector chunk)
PAGE: Final = 500

MapKey = tuple[str, "ChannelMode"]


class Stopped(Exception):
    """Mapping was asked to stop (the run is ending); nothing was stored. Raised by
    :func:`compute_map` and caught by its caller in :mod:`jobrunner.run.prefetch`."""


def map_mode(channels: int, downmix: str | None, channel_mode: str | None = None) -> ChannelMode:
    """The map a job needs: ``split`` when its channels are streamed apart (channel mode
    ``split``: one session per channel) or only the first of several is (its own segments),
    else ``downmix`` (what the session heard: the channels' mean, or the only channel)."""
    apart = channel_mode == "split" or downmix == "first"
    return "split" if channels > 1 and apart else "downmix"


def map_key(target: MapTarget) -> MapKey:
    return target.sha256, map_mode(target.channels, target.downmix, target.channel_mode)


def _same_file(target: MapTarget) -> None:
    """Refuse a file that is no longer what was enqueued (by size and mtime, when known)."""
    try:
        stat = os.stat(target.path)
    except OSError as exc:
        raise AudioError(target.path, f"cannot read it: {exc.strerror or exc}") from exc
    if (target.size_bytes is not None and stat.st_size != target.size_bytes) or (
        target.mtime_ns is not None and stat.st_mtime_ns != target.mtime_ns
    ):
        raise AudioError(target.path, "changed since it was enqueued; not mapped")


def compute_map(
    target: MapTarget,
    *,
    stop: threading.Event | None = None,
    on_progress: Callable[[float, float], None] | None = None,
) -> SpeechMap:
    """Map ``target``'s file; :class:`AudioError` when it cannot be (or changed), and
    :class:`Stopped` as soon as ``stop`` is set."""

    def progress(done_s: float, total_s: float) -> None:
        if stop is not None and stop.is_set():
            raise Stopped
        if on_progress is not None:
            on_progress(done_s, total_s)

    from jobrunner.audio.speechmap import map_file

    _same_file(target)
    speech = map_file(target.path, channels=map_key(target)[1], on_progress=progress)
    _same_file(target)  # not rewritten while it was read
    return speech


def map_target(store: Store, target: MapTarget, *, stop: threading.Event | None = None) -> None:
    """Compute and store the map of ``target``'s content (see :func:`compute_map`)."""
    store_map(store, target, compute_map(target, stop=stop))


def map_of(store: Store, target: MapTarget, *, stop: threading.Event | None = None) -> SpeechMap:
    """The stored map of ``target``'s content, or one computed and stored now: each content is
    mapped once. :class:`AudioError` when it had to be mapped and could not be."""
    speech = stored_map(store, target)
    if speech is None:
        speech = compute_map(target, stop=stop)
        store_map(store, target, speech)
    return speech


def store_map(store: Store, target: MapTarget, speech: SpeechMap) -> None:
    sha256, mode = map_key(target)
    stored = StoredMap(
        sha256=sha256,
        mode=mode,
        detector=speech.detector,
        duration_s=speech.duration_s,
        speech_s=round(sum(speech.speech_s(c) for c in range(len(speech.channels))), 3),
        map=speech.to_json(),
    )
    store.speech.save_map(stored)


def stored_map(store: Store, target: MapTarget) -> SpeechMap | None:
    """The stored map of ``target``'s content by the current detector, if any."""
    from jobrunner.audio.speechmap import SpeechMap
    from jobrunner.audio.vad import detector_id

    sha256, mode = map_key(target)
    found = store.speech.find(sha256, mode, detector_id())
    if found is None:
        return None
    try:
        return SpeechMap.from_json(found.map)
    except ValueError:
        return None  # a format this version cannot read: computed again


@dataclass(frozen=True)
class Aligned:
    """A job's transcript after alignment: its turns' end latencies and its verdict."""

    job_id: int
    end_latencies: tuple[float, ...]
    coverage: Coverage


def align_job(
    store: Store, job_id: int, *, map_if_missing: bool = True, stop: threading.Event | None = None
) -> Aligned | None:
    """Align ``job_id``'s current transcript with its content's map, mapping the file first
    when no map is stored (unless ``map_if_missing`` is false). ``None``: no transcript, no
    map, or a newer transcript replaced this one meanwhile. :class:`AudioError` when the file
    had to be mapped and could not be."""
    todo = store.speech.turns_to_align(job_id)
    if todo is None:
        return None
    if map_if_missing:
        speech = map_of(store, todo.target, stop=stop)
    elif (stored := stored_map(store, todo.target)) is not None:
        speech = stored
    else:
        return None
    from jobrunner.timing.speech import time_job

    timing = time_job(speech, todo.turns)
    rows = [
        TurnSpeech(
            channel=turn.channel,
            index=turn.index,
            speech_start_s=a.speech_start_s,
            speech_end_s=a.speech_end_s,
            start_latency_s=a.start_latency_s,
            end_latency_s=a.end_latency_s,
            eager_latency_s=a.eager_latency_s,
        )
        for turn, a in zip(todo.turns, timing.turns, strict=True)
    ]
    verdict = timing.coverage
    if not store.speech.save_alignment(
        job_id, todo.attempt_id, rows, verdict.verdict, verdict.uncovered_s
    ):
        return None
    latencies = tuple(r.end_latency_s for r in rows if r.end_latency_s is not None)
    return Aligned(job_id, latencies, verdict)


# -- analyze: maps and alignment for a selection of jobs -------------------------------------


@dataclass(frozen=True)
class AnalyzeProgress:
    """Files to map and their audio: done so far, in total (``files_total`` 0: none needed)."""

    files_done: int
    files_total: int
    audio_done_s: float
    audio_total_s: float
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        """Remaining audio at the rate so far; ``None`` before there is a rate."""
        if self.audio_done_s <= 0 or self.elapsed_s <= 0:
            return None
        rate = self.audio_done_s / self.elapsed_s
        return max(0.0, self.audio_total_s - self.audio_done_s) / rate


@dataclass(frozen=True)
class AnalyzeSummary:
    jobs: int = 0  # jobs selected that have content
    mapped: int = 0  # maps computed now
    reused: int = 0  # jobs whose content's map was already stored
    unreadable: tuple[tuple[str, str], ...] = ()  # (path, reason) of files not mapped
    aligned: int = 0  # succeeded jobs whose transcript was aligned
    uncovered: int = 0  # ... of which the coverage check flagged
    audio_s: float = 0.0  # audio mapped now
    elapsed_s: float = 0.0
    end_latencies: tuple[float, ...] = field(default=(), repr=False)


def _chunks(selector: Selector) -> Iterator[Selector]:
    """``selector`` in pieces of at most :data:`PAGE` named jobs (bounded SQL ``IN`` lists)."""
    if len(selector.ids) + len(selector.paths) <= PAGE:
        yield selector
        return
    for start in range(0, len(selector.ids), PAGE):
        yield replace(selector, ids=selector.ids[start : start + PAGE], paths=())
    for start in range(0, len(selector.paths), PAGE):
        yield replace(selector, ids=(), paths=selector.paths[start : start + PAGE])


def _pages(store: Store, selector: Selector) -> Iterator[list[MapTarget]]:
    seen: set[int] = set()
    for part in _chunks(selector):
        after = 0
        while page := store.speech.targets(part, after_id=after, limit=PAGE):
            after = page[-1].job_id
            fresh = [t for t in page if t.job_id not in seen]
            seen.update(t.job_id for t in fresh)
            yield fresh


class _Tally:
    """Progress shared by the mapping threads."""

    def __init__(self, files: int, audio_s: float, clock: Callable[[], float]) -> None:
        self.lock = threading.Lock()
        self.files_total, self.audio_total_s = files, audio_s
        self.files_done, self.audio_done_s = 0, 0.0
        self.clock, self.started = clock, clock()

    def add(self, files: int, audio_s: float) -> AnalyzeProgress:
        with self.lock:
            self.files_done += files
            self.audio_done_s += audio_s
            return AnalyzeProgress(
                self.files_done,
                self.files_total,
                self.audio_done_s,
                self.audio_total_s,
                self.clock() - self.started,
            )


def analyze(
    store: Store,
    selector: Selector,
    *,
    on_progress: Callable[[AnalyzeProgress], None] | None = None,
    threads: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AnalyzeSummary:
    """Map the content of every job ``selector`` names (every job with content when it names
    none) whose map is not stored yet, each content once, then align every selected job that
    succeeded. ``on_progress`` is called from the mapping threads as audio is read."""
    from jobrunner.audio.vad import detector_id

    detector = detector_id()
    missing: dict[MapKey, MapTarget] = {}
    jobs = reused = 0
    for page in _pages(store, selector):
        jobs += len(page)
        stored = store.speech.keys({t.sha256 for t in page}, detector)
        for target in page:
            key = map_key(target)
            if key in stored:
                reused += 1
            else:
                missing.setdefault(key, target)
    tally = _Tally(len(missing), sum(t.duration_s or 0.0 for t in missing.values()), clock)
    unreadable: list[tuple[str, str]] = []

    def one(target: MapTarget) -> None:
        done = 0.0

        def moved(done_s: float, total_s: float) -> None:
            nonlocal done
            step, done = done_s - done, done_s
            if on_progress is not None:
                on_progress(tally.add(0, step))

        try:
            store_map(store, target, compute_map(target, on_progress=moved))
        except AudioError as exc:
            unreadable.append((target.path, exc.reason))
        progress = tally.add(1, 0.0)
        if on_progress is not None:
            on_progress(progress)

    workers = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speechmap") as pool:
        list(pool.map(one, missing.values()))
    aligned: list[Aligned] = []
    if selector.states is None or JobState.SUCCEEDED in selector.states:
        succeeded = replace(selector, states=(JobState.SUCCEEDED,))
        for page in _pages(store, succeeded):
            for target in page:
                result = align_job(store, target.job_id, map_if_missing=False)
                if result is not None:
                    aligned.append(result)
    return AnalyzeSummary(
        jobs=jobs,
        mapped=len(missing) - len(unreadable),
        reused=reused,
        unreadable=tuple(unreadable),
        aligned=len(aligned),
        uncovered=sum(a.coverage.flagged for a in aligned),
        audio_s=tally.audio_done_s,
        elapsed_s=clock() - tally.started,
        end_latencies=tuple(x for a in aligned for x in a.end_latencies),
    )


__all__ = [
    "Aligned",
    "AnalyzeProgress",
    "AnalyzeSummary",
    "MapKey",
    "Stopped",
    "align_job",
    "analyze",
    "compute_map",
    "map_key",
    "map_mode",
    "map_target",
    "store_map",
    "stored_map",
]
