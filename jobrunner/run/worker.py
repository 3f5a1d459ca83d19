"""``jobrunner run``: drain the queue through N concurrent realtime sessions, exactly once.

Library API (the CLI and the demo call it; everything else here is internal)::

    summary = run_queue(settings, store, options=RunOptions(label="calls"),
                        on_outcome=print_line, on_progress=show)       # -> RunSummary
    summary = await arun_queue(...)                                    # inside an event loop

How a run goes:

* **Claim as slots free up.** Sessions borrow a slot from an ``anyio.CapacityLimiter`` whose
  size follows :class:`~jobrunner.run.concurrency.AdaptiveLimit` (one probe session first, then
  ``--concurrency``; halved by 429s, grown back additively, never above the ceiling). When a
  slot frees, as many jobs are claimed in one store call as there are free slots.
* **One attempt = one session.** ``transcribe_file`` streams the file (connect-phase failures
  are retried in place by the transport). The attempt ends with exactly one store verb, one
  transaction: ``complete`` (transcript + turns + attempt + status), ``retry_later`` with the
  backoff of :mod:`jobrunner.retry`, ``fail`` (permanent error, budget used up, ``invalid``
  audio) or ``release`` (shutdown). Success needs a drained session *and* the file's whole
  duration sent (:func:`~jobrunner.run.records.check_complete`).
* **Leases** are renewed for all running jobs at once every TTL/3 and dead workers' leases
  reaped (:mod:`jobrunner.run.leases`); a job that drops out of the renewal (``jobrunner cancel``)
  has its session cancelled and nothing is written for it. All DB and file work runs in threads,
  the store calls behind their own small limiter, so 100+ sessions never starve a renewal.
* **Stop.** The first 401/402/403 (or a configuration error, or a service that never answered
  a single handshake in this run: wrong URL, no network) stops claiming, releases this
  worker's running jobs and ends the run (exit 3 / 2): it is the key, not the files. A first
  SIGINT/SIGTERM (or :meth:`Worker.request_stop`) stops claiming and lets sessions finish within
  ``grace_seconds``; the second, or the grace running out, cancels them and releases their jobs
  without costing an attempt (shielded writes). kill -9 loses nothing either: the leases expire
  and the next run reaps them (that attempt counts).
* **Done** when nothing is queued (jobs waiting for a backoff count: the run waits for them) and
  nothing runs here. Jobs running under other workers' leases are theirs.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from jobrunner.client.auto import LiveEvent
from jobrunner.config import Settings
from jobrunner.errors import JobrunnerError, RateLimitedError, SessionError, StoreError
from jobrunner.retry import RetryPolicy
from jobrunner.run.attempt import Attempt, Running, Why
from jobrunner.run.concurrency import AdaptiveLimit
from jobrunner.run.leases import LeaseKeeper
from jobrunner.run.outcomes import JobOutcome, RunSnapshot, RunSummary, Tally
from jobrunner.store import ClaimedJob, JobState, ReapResult, Selector, Store, make_owner

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: threads for store calls (SQLite serialises writers anyway; PostgreSQL gets some overlap)
DB_THREADS = 4
#: most jobs claimed in one store call
CLAIM_BATCH = 64
#: longest wait between looks at the queue while idle (new jobs, reaped jobs)
MAX_POLL_S = 5.0

OnOutcome = Callable[[JobOutcome], None]
OnProgress = Callable[[RunSnapshot], None]


@dataclass(frozen=True)
class RunOptions:
    """What a run does beyond its settings.

    ``label``: only jobs with this label. ``limit``: claim at most N jobs (a retry of a job this
    run already tried counts again). ``max_attempts``: the attempt budget per job in this run's
    decisions (it can lower the budget set at enqueue; ``retry`` gives a fresh one).
    ``retry_failed``: queue the failed jobs again first. ``handle_signals``: SIGINT/SIGTERM
    stop the run gracefully (main thread only; without it a Ctrl-C aborts the sessions and the
    leases expire). ``probe``: one session until a handshake succeeds. ``seed``: the backoff
    jitter's random seed.
    """

    label: str | None = None
    limit: int | None = None
    max_attempts: int | None = None
    retry_failed: bool = False
    handle_signals: bool = False
    probe: bool = True
    seed: int | None = None


class Worker:
    """One run of the claim loop. Not reusable; create one per run."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        options: RunOptions | None = None,
        *,
        on_outcome: OnOutcome | None = None,
        on_progress: OnProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.options = options or RunOptions()
        self.owner = make_owner()
        self.clock = clock
        self.policy = RetryPolicy(
            settings.requeue_base_s, settings.requeue_cap_s, settings.rate_limit_factor
        )
        self.rng = random.Random(self.options.seed)
        self.limit = AdaptiveLimit(settings.concurrency, clock=clock, probe=self.options.probe)
        self.running: dict[int, Running] = {}
        self.counters = Tally()
        self.stopping = False
        self.connected_once = False  # a handshake succeeded in this run
        self._on_outcome = on_outcome
        self._on_progress = on_progress
        self._started = clock()
        self._stop_deadline = math.inf
        self._hard_stop = False
        # anyio primitives need the event loop: made in run()
        self._pulse: anyio.Event
        self._db: anyio.CapacityLimiter
        self.slots: anyio.CapacityLimiter
        self._claim_scope: anyio.CancelScope

    # --- plumbing -----------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """A store call in a worker thread, behind the store's own limiter; shielded, so a
        write the store has started is never abandoned half-known."""
        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self._db)
        return result

    def _changed(self) -> None:
        """Wake whoever waits for a slot, the end of a session or a limit change."""
        self._pulse.set()
        self._pulse = anyio.Event()
        if self._on_progress is not None:
            self._on_progress(self.snapshot())

    def snapshot(self) -> RunSnapshot:
        now = self.clock()
        return self.counters.snapshot(
            elapsed_s=now - self._started,
            running=[(r.job.duration_s, now - r.started) for r in self.running.values()],
            limit=self.limit.limit,
            ceiling=self.limit.ceiling,
            pace=self.settings.pace,
            stopping=self.stopping,
        )

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        self._pulse = anyio.Event()
        self._db = anyio.CapacityLimiter(DB_THREADS)
        self.slots = anyio.CapacityLimiter(self.limit.limit)
        self._claim_scope = anyio.CancelScope()
        if self.options.retry_failed:
            ids = await self.db(
                self.store.requeue,
                Selector(label=self.options.label, states=(JobState.FAILED,)),
                max_attempts=self.options.max_attempts,
            )
            self.counters.requeued_failed = len(ids)
        self._note_reaped(await self.db(self.store.reap_expired))
        await self._refresh_queue()
        keeper = LeaseKeeper(
            self.store,
            self.owner,
            self.settings.lease_ttl_s,
            call=self.db,
            held=lambda: set(self.running),
            lost=self._leases_lost,
            reaped=self._note_reaped,
            clock=self.clock,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(keeper.run)
            if self.options.handle_signals and _can_handle_signals():
                await tg.start(self._watch_signals)
            if self._on_progress is not None:
                tg.start_soon(self._refresh_loop)
            await self._claim_loop(tg)
            await self._finish_running()
            tg.cancel_scope.cancel()
        return await self._summary()

    def request_stop(self, *, error: JobrunnerError | None = None, hard: bool = False) -> None:
        """Stop claiming. Running sessions get ``grace_seconds`` (none when ``hard``, on a
        second call, or for an ``error`` that stops the run); then they are cancelled and their
        jobs released."""
        if error is not None and self.counters.stop_error is None:
            self.counters.stop_error = error
        if self.stopping or hard or error is not None:
            self._hard_stop = True
            self._cancel_all("stop")
        else:
            self._stop_deadline = self.clock() + self.settings.grace_seconds
        self.stopping = True
        self._claim_scope.cancel()
        self._changed()

    def _cancel_all(self, why: Why) -> None:
        for running in self.running.values():
            running.cancel(why)

    async def _watch_signals(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                self.counters.interrupted = True
                first = not self.stopping
                logger.warning(
                    "%s: %s",
                    signal.Signals(signum).name,
                    "finishing running sessions (again to stop now)"
                    if first and self.settings.grace_seconds > 0
                    else "stopping now; running jobs go back to the queue",
                )
                self.request_stop()

    async def _claim_loop(self, tg: TaskGroup) -> None:
        with self._claim_scope:
            while not self.stopping:
                left = self._claims_left()
                if left <= 0:
                    return
                first = object()
                await self.slots.acquire_on_behalf_of(first)
                tokens = [first]
                extra = min(int(self.slots.available_tokens), CLAIM_BATCH - 1, left - 1)
                for _ in range(max(0, extra)):
                    token = object()
                    self.slots.acquire_on_behalf_of_nowait(token)
                    tokens.append(token)
                with anyio.CancelScope(shield=True):
                    claimed = await self._claim(tg, tokens)
                if claimed < len(tokens) and not await self._wait_for_work():
                    return

    async def _claim(self, tg: TaskGroup, tokens: list[object]) -> int:
        try:
            jobs: list[ClaimedJob] = await self.db(
                self.store.claim,
                len(tokens),
                self.owner,
                self.settings.lease_ttl_s,
                self.options.label,
            )
        except StoreError as exc:
            for token in tokens:
                self.slots.release_on_behalf_of(token)
            logger.error("cannot claim jobs: %s", exc)
            self.request_stop(error=exc)
            return 0
        for token in tokens[len(jobs) :]:
            self.slots.release_on_behalf_of(token)
        if self.stopping:  # the stop came while the claim was in flight: give them back
            for job, token in zip(jobs, tokens, strict=False):
                self.slots.release_on_behalf_of(token)
                try:
                    await self.db(self.store.release, job.id, self.owner)
                except StoreError as exc:
                    logger.warning("job %d: release failed (the reaper will): %s", job.id, exc)
            return len(jobs)
        for job, token in zip(jobs, tokens, strict=False):
            self.counters.took(job.duration_s)
            running = Running(job, anyio.Event(), started=self.clock())
            self.running[job.id] = running
            tg.start_soon(self._session, running, token)
        if jobs:
            self._changed()
        return len(jobs)

    def _claims_left(self) -> int:
        if self.options.limit is None:
            return CLAIM_BATCH
        return self.options.limit - self.counters.claimed

    async def _wait_for_work(self) -> bool:
        """After a claim came back short: wait until a job may be claimable. False when the
        run is done (nothing queued and nothing running here)."""
        pulse = self._pulse
        due = await self.db(self.store.next_run_after, self.options.label)
        if due is None and not self.running:
            return False
        poll = min(MAX_POLL_S, self.settings.lease_ttl_s / 3)
        if due is not None:
            poll = min(poll, max(0.05, (due - self.store.now()).total_seconds()))
        with anyio.move_on_after(poll):
            await pulse.wait()
        return True

    async def _finish_running(self) -> None:
        """Wait for the running sessions; after a stop, for at most the grace period."""
        while self.running:
            pulse = self._pulse
            if self.stopping and not self._hard_stop:
                with anyio.move_on_after(max(0.0, self._stop_deadline - self.clock())):
                    await pulse.wait()
                if self.clock() >= self._stop_deadline and not self._hard_stop:
                    logger.warning("grace period over: cancelling %d sessions", len(self.running))
                    self._hard_stop = True
                    self._cancel_all("stop")
            else:
                await pulse.wait()

    # --- one job --------------------------------------------------------------------------

    async def _session(self, running: Running, token: object) -> None:
        outcome: JobOutcome | None = None
        try:
            outcome = await Attempt(self, running).run()
        except Exception:  # our own bookkeeping failed: the lease expires, the reaper recovers
            logger.exception("job %d: unexpected error in the worker", running.job.id)
        finally:
            self.running.pop(running.job.id, None)
            self.slots.release_on_behalf_of(token)
            if outcome is not None:
                self.counters.count(outcome)
            self._changed()
        if outcome is not None and self._on_outcome is not None:
            self._on_outcome(outcome)

    # --- callbacks from sessions and the lease keeper -------------------------------------

    def on_event(self, running: Running, live: LiveEvent) -> None:
        if not running.connected:
            running.connected = self.connected_once = True
            if self.limit.connected():
                self._limit_changed()

    def on_connect_retry(self, error: SessionError, delay_s: float) -> None:
        self.counters.connect_retries += 1
        if isinstance(error, RateLimitedError):
            self.rate_limited()

    def rate_limited(self) -> None:
        self.counters.rate_limited += 1
        if self.limit.rate_limited():
            self._limit_changed()

    def _limit_changed(self) -> None:
        self.slots.total_tokens = self.limit.limit
        logger.info("live concurrency %d (ceiling %d)", self.limit.limit, self.limit.ceiling)
        self._changed()

    def _leases_lost(self, ids: set[int]) -> None:
        for job_id in ids:
            running = self.running.get(job_id)
            if running is not None and running.streaming:
                logger.info("job %d: lease gone (cancelled or reaped); stopping it", job_id)
                running.cancel("lease")

    def _note_reaped(self, result: ReapResult) -> None:
        self.counters.reaped += len(result.requeued) + len(result.failed)
        if result.requeued:
            self._changed()

    # --- progress totals ------------------------------------------------------------------

    async def _refresh_queue(self) -> None:
        """Queued jobs and audio for progress (an estimate with a label filter)."""
        try:
            if self.options.label is None:
                report = await self.db(self.store.status)
                state = next(s for s in report.states if s.state == JobState.QUEUED.value)
                self.counters.queued, self.counters.queued_audio_s = state.jobs, state.audio_s
            else:
                count: int = await self.db(
                    self.store.count, states=[JobState.QUEUED.value], label=self.options.label
                )
                mean = self.counters.mean_claimed_s
                self.counters.queued, self.counters.queued_audio_s = count, count * mean
        except StoreError as exc:
            logger.debug("progress totals not refreshed: %s", exc)

    async def _refresh_loop(self) -> None:
        while True:
            await anyio.sleep(2.0)
            await self._refresh_queue()
            self._changed()

    async def _summary(self) -> RunSummary:
        others = 0
        try:
            report = await self.db(self.store.status)
            others = sum(w.running for w in report.workers if w.owner != self.owner)
        except StoreError:
            pass
        return self.counters.summary(
            elapsed_s=self.clock() - self._started,
            ceiling=self.limit.ceiling,
            limit=self.limit.limit,
            lowest=self.limit.lowest,
            others=others,
        )


def _can_handle_signals() -> bool:
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


async def arun_queue(
    settings: Settings,
    store: Store,
    *,
    options: RunOptions | None = None,
    on_outcome: OnOutcome | None = None,
    on_progress: OnProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Drain the queue (see the module docstring) inside a running event loop."""
    worker = Worker(
        settings, store, options, on_outcome=on_outcome, on_progress=on_progress, clock=clock
    )
    return await worker.run()


def run_queue(
    settings: Settings,
    store: Store,
    *,
    options: RunOptions | None = None,
    on_outcome: OnOutcome | None = None,
    on_progress: OnProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Drain the queue; blocks until the run ends. ``on_outcome`` is called once per attempt
    outcome and ``on_progress`` on every change, both on the event loop: they must not block.
    """
    return anyio.run(
        partial(
            arun_queue,
            settings,
            store,
            options=options,
            on_outcome=on_outcome,
            on_progress=on_progress,
            clock=clock,
        )
    )


__all__ = [
    "JobOutcome",
    "RunOptions",
    "RunSnapshot",
    "RunSummary",
    "Worker",
    "arun_queue",
    "run_queue",
]
