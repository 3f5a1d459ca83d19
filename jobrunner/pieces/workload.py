"""The work an estimate is made of: each file's sessions and its speech, read from disk.

Two sources: bare paths (probed and mapped here, nothing stored) and a queue's runnable jobs
(maps reused from the store, or computed once and stored as ``jobrunner analyze`` would, so
the run that follows does not map them again). The channel mode decides the sessions: a
multichannel file is one session per channel when split (``auto``: when
:func:`~jobrunner.audio.channels.channels_differ` says so), else one over the downmix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final

from jobrunner.audio.probe import probe
from jobrunner.audio.speechmap import SpeechMap, map_file
from jobrunner.enqueue.discover import find_files
from jobrunner.errors import AudioError
from jobrunner.pieces.estimate import FileWork
from jobrunner.pieces.share import splits_channels
from jobrunner.run.analysis import analyze, map_of
from jobrunner.store import JobState, MapTarget, Selector, Store

_PAGE: Final = 500


@dataclass
class Workload:
    files: list[FileWork] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _work(path: str, speech: SpeechMap, split: bool) -> FileWork:
    channels = speech.channels if split else speech.channels[:1]
    union = sorted((s.start_s, s.end_s) for channel in channels for s in channel)
    return FileWork(
        path=path,
        frames=round(speech.duration_s * speech.sample_rate),
        sample_rate=speech.sample_rate,
        sessions=len(channels),
        speech_s=sum(speech.speech_s(c) for c in range(len(channels))),
        cut_speech=tuple(union),
    )


def from_paths(paths: Iterable[str | os.PathLike[str]], mode: str) -> Workload:
    """The audio files at ``paths`` (folders walked as ``enqueue`` walks them)."""
    work = Workload()
    for path in find_files(paths).files:
        try:
            info = probe(path)
            split = splits_channels(path, info.channels, mode)
            speech = map_file(path, channels="split" if split else "downmix")
        except AudioError as exc:
            work.unreadable.append((path, exc.reason))
            continue
        work.files.append(_work(path, speech, split))
    return work


def _targets(store: Store, selector: Selector) -> Iterator[MapTarget]:
    after = 0
    while page := store.speech.targets(selector, after_id=after, limit=_PAGE):
        after = page[-1].job_id
        yield from page


def from_queue(store: Store, mode: str, label: str | None = None) -> Workload:
    """The queue's runnable (queued) jobs, each heard in its own channel mode when it was
    enqueued with one, else in ``mode`` (the run's), as the run streams them; maps computed
    once and stored (the missing ones first, in parallel, as ``jobrunner analyze`` does) under
    the key the run looks them up by."""
    selector = Selector(label=label, states=(JobState.QUEUED,))
    analyze(store, selector)
    work = Workload()
    for target in _targets(store, selector):
        split = splits_channels(target.path, target.channels, target.channel_mode or mode)
        wanted = replace(target, channel_mode="split" if split else "downmix")
        try:
            speech = map_of(store, wanted)
        except AudioError as exc:
            work.unreadable.append((target.path, exc.reason))
            frames = round((target.duration_s or 0.0) * 1000)
            sessions = target.channels if split else 1
            work.files.append(FileWork(target.path, frames, 1000, sessions, None, None))
            continue
        work.files.append(_work(target.path, speech, split))
    return work
