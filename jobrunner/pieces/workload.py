"""The work an estimate is made of: each file's sessions (lanes) and their speech, read from disk.

Two sources: bare paths (probed and mapped here, nothing stored) and a queue's runnable jobs
(maps reused from the store, or computed once and stored as ``jobrunner analyze`` would, so
the run that follows does not map them again). The channel mode decides the lanes: a
multichannel file is one lane per channel when split (``auto``: when
:func:`~jobrunner.audio.channels.channels_differ` says so), else one downmixed lane.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from jobrunner.audio.channels import channels_differ
from jobrunner.audio.probe import probe
from jobrunner.audio.speechmap import SpeechMap, map_file
from jobrunner.enqueue.discover import find_files
from jobrunner.errors import AudioError
from jobrunner.pieces.estimate import Lane
from jobrunner.run.analysis import analyze, compute_map, store_map, stored_map
from jobrunner.store import JobState, MapTarget, Selector, Store

ChannelsMode = Literal["downmix", "split", "auto"]
CHANNEL_MODES: Final[tuple[ChannelsMode, ...]] = ("downmix", "split", "auto")
_PAGE: Final = 500


@dataclass
class Workload:
    lanes: list[Lane] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _split_channels(path: str, channels: int, mode: ChannelsMode) -> bool:
    if channels < 2 or mode == "downmix":
        return False
    if mode == "split":
        return True
    try:
        return channels_differ(path)
    except AudioError:
        return False  # unreadable now: the run will say so; estimate it as one session


def _lanes(path: str, speech: SpeechMap, split: bool) -> list[Lane]:
    frames = round(speech.duration_s * speech.sample_rate)
    spans = [tuple((s.start_s, s.end_s) for s in channel) for channel in speech.channels]
    if split:
        return [Lane(path, ch, frames, speech.sample_rate, s) for ch, s in enumerate(spans)]
    return [Lane(path, None, frames, speech.sample_rate, spans[0])]


def from_paths(paths: Iterable[str | os.PathLike[str]], mode: ChannelsMode) -> Workload:
    """Lanes of the audio files at ``paths`` (folders walked as ``enqueue`` walks them)."""
    work = Workload()
    for path in find_files(paths).files:
        try:
            info = probe(path)
            split = _split_channels(path, info.channels, mode)
            speech = map_file(path, channels="split" if split else "downmix")
        except AudioError as exc:
            work.unreadable.append((path, exc.reason))
            continue
        work.lanes += _lanes(path, speech, split)
    return work


def _targets(store: Store, selector: Selector) -> Iterator[MapTarget]:
    after = 0
    while page := store.speech.targets(selector, after_id=after, limit=_PAGE):
        after = page[-1].job_id
        yield from page


def from_queue(store: Store, mode: ChannelsMode, label: str | None = None) -> Workload:
    """Lanes of the queue's runnable (queued) jobs; maps computed once and stored (the
    missing ones first, in parallel, as ``jobrunner analyze`` does)."""
    selector = Selector(label=label, states=(JobState.QUEUED,))
    analyze(store, selector)
    work = Workload()
    for target in _targets(store, selector):
        split = _split_channels(target.path, target.channels, mode)
        # a split map is what a job streaming only its first channel needs, too
        wanted = replace(target, downmix="first") if split else target
        try:
            speech = stored_map(store, wanted)
            if speech is None:
                speech = compute_map(wanted)
                store_map(store, wanted, speech)
        except AudioError as exc:
            work.unreadable.append((target.path, exc.reason))
            duration = target.duration_s or 0.0
            lanes = target.channels if split else 1
            work.lanes += [
                Lane(target.path, ch if split else None, round(duration * 1000), 1000, None)
                for ch in range(lanes)
            ]
            continue
        work.lanes += _lanes(target.path, speech, split)
    return work
