"""Before a session opens: is the file there, readable, and still the one that was enqueued?

A job names a path, and a path is only a promise: between enqueue and run a file can be moved,
its share unmounted, the worker can be a machine without the mount, or a recorder can rotate
its segments under the same name. Each case has its own answer, decided here before any audio
is paid for:

* missing or unreadable -> :class:`FileUnavailableError` (retryable: the file may be back);
* another file under the same name (size, ``st_mtime_ns``, or the probed frames or sample rate
  differ from what enqueue recorded) -> :class:`FileChangedError` (the job fails for good:
  transcribing it would store new audio under the old hash; enqueueing it again makes a new
  job of the new content);
* content that cannot decode -> :class:`AudioError` (``invalid``), from the probe.

The file is opened first and the opened file is stat'ed: the open is what proves the worker
can read it (permissions, a mount that answers) and the facts compared are those of the very
file opened. A value enqueue did not record (jobs from before the ``mtime_ns`` column) is not
compared. Everything here but :func:`checked_plan` blocks on the file system: call it in a
worker thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import anyio.to_thread

from jobrunner.audio.span import Span
from jobrunner.audio.stream import WirePlan, plan_stream
from jobrunner.client.cancel import until_cancelled
from jobrunner.config import Settings
from jobrunner.errors import (
    AudioError,
    FileChangedError,
    FileUnavailableError,
    SessionCancelled,
    SessionFacts,
    SourceError,
)


@dataclass(frozen=True)
class Enqueued:
    """What enqueue recorded of the file; ``None`` is "not recorded" and is not compared."""

    size_bytes: int | None = None
    mtime_ns: int | None = None
    frames: int | None = None
    sample_rate: int | None = None


def _unavailable(path: str, exc: OSError) -> FileUnavailableError:
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return FileUnavailableError(path, "broken symlink (its target does not exist)")
        return FileUnavailableError(path, "file not found")
    if isinstance(exc, PermissionError):
        return FileUnavailableError(path, "unreadable: permission denied")
    return FileUnavailableError(path, f"unreadable: {exc.strerror or exc}")


def opened_stat(path: str) -> os.stat_result:
    """Open ``path`` for reading and stat the opened file; :class:`FileUnavailableError` when
    it cannot be opened, :class:`FileChangedError` when it is no regular file any more."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
    except IsADirectoryError as exc:
        raise FileChangedError(path, "changed since enqueue: now a folder") from exc
    except OSError as exc:
        raise _unavailable(path, exc) from exc
    if not stat.S_ISREG(st.st_mode):
        raise FileChangedError(path, "changed since enqueue: no regular file any more")
    return st


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="microseconds")


def _changed(path: str, differences: list[str]) -> FileChangedError:
    return FileChangedError(
        path,
        f"changed since enqueue ({', '.join(differences)}); enqueue it again to transcribe "
        "it as it is now",
    )


def check_unchanged(path: str, st: os.stat_result, enqueued: Enqueued) -> None:
    """:class:`FileChangedError` when size or mtime differ from what enqueue recorded."""
    differences = []
    if enqueued.size_bytes is not None and st.st_size != enqueued.size_bytes:
        differences.append(f"{enqueued.size_bytes} bytes then, {st.st_size} now")
    if enqueued.mtime_ns is not None and st.st_mtime_ns != enqueued.mtime_ns:
        differences.append(f"modified {_when(enqueued.mtime_ns)} then, {_when(st.st_mtime_ns)} now")
    if differences:
        raise _changed(path, differences)


def check_plan(path: str, plan: WirePlan, enqueued: Enqueued) -> None:
    """:class:`FileChangedError` when the probe finds other frames or another rate."""
    frames, rate = enqueued.frames, enqueued.sample_rate
    if (frames is not None and plan.source_frames != frames) or (
        rate is not None and plan.source_rate != rate
    ):
        raise _changed(
            path,
            [f"{frames} frames at {rate} Hz then, {plan.source_frames} at {plan.source_rate} now"],
        )


def prepare(
    path: str, settings: Settings, enqueued: Enqueued | None = None, span: Span | None = None
) -> WirePlan:
    """Every pre-stream check, then the wire plan (one probe) of the file or its ``span``.
    Raises :class:`FileUnavailableError`, :class:`FileChangedError` or :class:`AudioError`."""
    st = opened_stat(path)
    if enqueued is not None:
        check_unchanged(path, st, enqueued)
    try:
        plan = plan_stream(path, settings)
    except AudioError as exc:
        raise explain(path, exc, enqueued) from exc
    if enqueued is not None:
        check_plan(path, plan, enqueued)
    return plan if span is None else spanned(path, plan, span)


def spanned(path: str, plan: WirePlan, span: Span) -> WirePlan:
    """``plan`` for ``span`` of the file; :class:`AudioError` when the file has no such span
    (fewer frames or channels than the piece was cut from)."""
    end = plan.source_frames if span.end_frame is None else span.end_frame
    if not 0 <= span.start_frame < end <= plan.source_frames:
        raise AudioError(
            path, f"has no frames {span.start_frame}..{end} (it has {plan.source_frames})"
        )
    if span.channel is not None and not 0 <= span.channel < plan.channels:
        raise AudioError(path, f"has no channel {span.channel} (it has {plan.channels})")
    return replace(plan, span=span)


def explain(path: str, error: AudioError, enqueued: Enqueued | None) -> AudioError | SourceError:
    """A read of ``path`` failed with ``error``: look at the file again. Gone or unreadable
    now, or changed, says more than the failed read (a share that went away mid-stream is not
    a broken recording); otherwise ``error`` stands."""
    try:
        st = opened_stat(path)
        if enqueued is not None:
            check_unchanged(path, st, enqueued)
    except SourceError as seen:
        return seen
    return error


async def checked_plan(
    name: str,
    settings: Settings,
    enqueued: Enqueued | None,
    cancel_event: anyio.Event | None,
    span: Span | None = None,
) -> WirePlan:
    """:func:`prepare` in a worker thread, abandoned (left to finish or hang on its own) when
    ``cancel_event`` is set: :class:`SessionCancelled`, and no session was opened."""
    plan = await until_cancelled(
        cancel_event,
        lambda: anyio.to_thread.run_sync(
            prepare, name, settings, enqueued, span, abandon_on_cancel=True
        ),
    )
    if plan is None:
        raise SessionCancelled("session cancelled before it opened", facts=SessionFacts())
    return plan


__all__ = [
    "Enqueued",
    "check_plan",
    "check_unchanged",
    "checked_plan",
    "explain",
    "opened_stat",
    "prepare",
    "spanned",
]
