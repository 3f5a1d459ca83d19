"""The parent of ``run --processes``: start the worker processes, broker their session slots,
merge what they report, forward signals, and make one summary of their parts.

The parent runs no event loop and no session: it waits on the children's channels
(:func:`multiprocessing.connection.wait`) and answers each message at once, so a slot request
is never queued behind a display refresh. How the pieces fit: :mod:`jobrunner.run.multi`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from types import FrameType

from jobrunner.config import Settings
from jobrunner.errors import JobrunnerError, StoreError
from jobrunner.run.concurrency import AdaptiveLimit
from jobrunner.run.multi.channel import (
    Channel,
    Connected,
    Failed,
    Finished,
    Grant,
    Outcome,
    Progress,
    RateLimited,
    Release,
    Start,
    Stop,
    Want,
    pack_error,
    unpack_error,
)
from jobrunner.run.multi.merge import merge_counts, merge_snapshots, merge_speech
from jobrunner.run.multi.permits import PermitBroker
from jobrunner.run.multi.plan import split
from jobrunner.run.outcomes import RunSnapshot, RunSummary
from jobrunner.run.shutdown import can_handle_signals
from jobrunner.run.worker import OnOutcome, OnProgress, RunOptions
from jobrunner.store import JobState, Selector, Store

logger = logging.getLogger(__name__)

#: the longest the parent waits between looks at its children
WAKE_S = 1.0
#: which stop error wins when children stop for different ones (higher first)
SEVERITY = {3: 2, 2: 1}


@dataclass
class Child:
    """One worker process as the parent sees it."""

    index: int
    proc: subprocess.Popen[bytes]
    channel: Channel
    snapshot: RunSnapshot | None = None
    finished: Finished | None = None
    failed: bool = False
    open: bool = True

    @property
    def died(self) -> bool:
        return self.finished is None and not self.failed


def spawn(index: int, start: Start) -> Child:
    """``python -m jobrunner.run.multi.child FD`` in a session of its own (a terminal's Ctrl-C
    is the parent's to forward), its channel the other end of a private socket pair."""
    ours, theirs = socket.socketpair()
    with theirs:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobrunner.run.multi.child", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
    channel = Channel(Connection(ours.detach()))
    channel.send(start)
    return Child(index, proc, channel)


class Fleet:
    """One run over several worker processes (see :func:`run_processes`)."""

    def __init__(
        self,
        settings: Settings,
        options: RunOptions,
        processes: int,
        *,
        on_outcome: OnOutcome | None,
        on_progress: OnProgress | None,
        clock: Callable[[], float],
        speech_map: bool,
    ) -> None:
        self.settings = settings
        self.options = options
        self.processes = processes
        self.limit = AdaptiveLimit(settings.concurrency, clock=clock, probe=options.probe)
        self.broker = PermitBroker(self.limit, processes)
        self.children: list[Child] = []
        self.interrupted = False
        self.errors: list[JobrunnerError] = []
        self._on_outcome = on_outcome
        self._on_progress = on_progress
        self._clock = clock
        self._started = clock()
        self._speech_map = speech_map

    def start(self) -> None:
        shares = split(self.settings.concurrency, self.processes)
        limits = split(self.options.limit, self.processes) if self.options.limit else None
        level = logging.getLogger().getEffectiveLevel()
        for index, share in enumerate(shares):
            seed = None if self.options.seed is None else self.options.seed + index
            options = replace(
                self.options,
                retry_failed=False,  # done once, by the parent
                handle_signals=True,  # the parent forwards them
                probe=False,  # the parent's limit probes
                seed=seed,
                limit=None if limits is None else limits[index],
            )
            settings = self.settings.replace(concurrency=share)
            start = Start(settings, options, self._speech_map, level)
            self.children.append(spawn(index, start))

    def forward(self, signum: int, frame: FrameType | None = None) -> None:
        """A signal to the parent goes to every child still running."""
        self.interrupted = True
        for child in self.children:
            if child.open and child.proc.poll() is None:
                try:
                    os.kill(child.proc.pid, signum)
                except ProcessLookupError:
                    pass

    def loop(self) -> None:
        """Until every child's channel has closed."""
        while live := {child.channel.conn: child for child in self.children if child.open}:
            for conn in wait(list(live), timeout=WAKE_S):
                child = live[conn]  # type: ignore[index]
                try:
                    message = child.channel.conn.recv()
                except (EOFError, OSError):
                    self._ended(child)
                    continue
                self._handle(child, message)
            self._grant()

    def _handle(self, child: Child, message: object) -> None:
        if isinstance(message, Want):
            self.broker.want(child.index, message.slots)
        elif isinstance(message, Release):
            self.broker.release(child.index, message.slots)
        elif isinstance(message, Connected):
            if self.limit.connected():
                self._limit_changed()
        elif isinstance(message, RateLimited):
            if self.limit.rate_limited():
                self._limit_changed()
        elif isinstance(message, Progress):
            child.snapshot = message.snapshot
            self._progress()
        elif isinstance(message, Outcome):
            if self._on_outcome is not None:
                self._on_outcome(message.outcome)
        elif isinstance(message, Failed):
            child.failed = True
            self._stop_all(unpack_error(message.error), child)
        elif isinstance(message, Finished):
            child.finished = message
            if message.error is not None:
                self._stop_all(unpack_error(message.error), child)

    def _stop_all(self, error: JobrunnerError, source: Child) -> None:
        """A stop error in one child stops every other one the same way."""
        self.errors.append(error)
        for child in self.children:
            if child is not source and child.open:
                child.channel.send(Stop(pack_error(error)))

    def _grant(self) -> None:
        for index, slots in self.broker.grants().items():
            self.children[index].channel.send(Grant(slots))

    def _limit_changed(self) -> None:
        logger.info("live concurrency %d (ceiling %d)", self.limit.limit, self.limit.ceiling)
        self._progress()

    def _ended(self, child: Child) -> None:
        child.open = False
        child.channel.close()
        code = child.proc.wait()
        self.broker.gone(child.index)
        if child.died:
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            logger.error(
                "worker process %d (pid %d) ended without finishing (%s); its jobs go back "
                "to the queue as its leases are reaped",
                child.index + 1,
                child.proc.pid,
                how,
            )
            self.interrupted = True
        self._progress()

    def snapshot(self) -> RunSnapshot:
        return merge_snapshots(
            [child.snapshot for child in self.children if child.snapshot is not None],
            elapsed_s=self._clock() - self._started,
            limit=self.limit.limit,
            ceiling=self.limit.ceiling,
            pace=self.settings.pace,
            siblings=[child.proc.pid for child in self.children],
        )

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.snapshot())

    def summary(self, store: Store, requeued: int) -> RunSummary:
        parts = []  # a child that died counts what it reported before
        for child in self.children:
            if child.finished is not None:
                parts.append(child.finished.counts)
            elif child.snapshot is not None:
                parts.append(child.snapshot.counts)
        counts = merge_counts(parts)
        others = 0
        try:
            others = sum(worker.running for worker in store.status().workers)
        except StoreError as exc:
            logger.warning("cannot tell whether other workers still run jobs: %s", exc)
        error = max(self.errors, key=lambda e: SEVERITY.get(e.exit_code, 0), default=None)
        return RunSummary(
            counts=replace(counts, requeued_failed=requeued),
            elapsed_s=self._clock() - self._started,
            ceiling=self.limit.ceiling,
            final_limit=self.limit.limit,
            lowest_limit=self.limit.lowest,
            interrupted=self.interrupted
            or any(c.finished.interrupted for c in self.children if c.finished is not None),
            stop_error=error,
            others_running=others,
            speech=merge_speech(
                [c.finished.speech for c in self.children if c.finished is not None]
            ),
        )

    @contextmanager
    def signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM forwarded to the children while the run lasts (main thread only)."""
        if not (self.options.handle_signals and can_handle_signals()):
            yield
            return
        before = {sig: signal.signal(sig, self.forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)


def run_processes(
    settings: Settings,
    store: Store,
    processes: int,
    *,
    options: RunOptions,
    on_outcome: OnOutcome | None,
    on_progress: OnProgress | None,
    clock: Callable[[], float],
    speech_map: bool,
) -> RunSummary:
    """Drain the queue with ``processes`` worker processes sharing ``settings.concurrency``
    sessions; blocks until every one has ended. The callbacks run on this thread."""
    requeued = 0
    if options.retry_failed:
        selector = Selector(label=options.label, states=(JobState.FAILED,))
        requeued = len(store.requeue(selector, max_attempts=options.max_attempts))
    fleet = Fleet(
        settings,
        options,
        processes,
        on_outcome=on_outcome,
        on_progress=on_progress,
        clock=clock,
        speech_map=speech_map,
    )
    with fleet.signals():
        try:
            fleet.start()
            fleet.loop()
        finally:
            for child in fleet.children:  # only after an error of our own: never orphans
                if child.proc.poll() is None:
                    child.proc.terminate()
                    child.proc.wait()
    return fleet.summary(store, requeued)


__all__ = ["Child", "Fleet", "run_processes", "spawn"]
