"""The claim loop: claim jobs as session slots free up, one :class:`Attempt` per claimed job,
act on how each attempt ended, and stop when the queue is drained or a stop is asked for.
Drained means nothing this worker could ever claim: jobs in a retry backoff are waited for,
and so are jobs running under other workers' leases (they may come back to the queue, and an
expiring lease is reaped and its job run), unless ``RunOptions.no_wait``.

Sessions borrow a slot from an ``anyio.CapacityLimiter`` whose size follows
:class:`~jobrunner.run.concurrency.AdaptiveLimit`; when slots free, as many jobs are claimed in
one store call as there are free slots. Leases are kept by :mod:`jobrunner.run.leases`, a stop
is handled by :mod:`jobrunner.run.shutdown`. The whole story of a run is in :mod:`jobrunner.run`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import anyio
from anyio.abc import TaskGroup

from jobrunner.config import Settings
from jobrunner.errors import JobrunnerError, RateLimitedError, SessionError, StoreError
from jobrunner.retry import RetryPolicy
from jobrunner.run.attempt import Attempt, AttemptContext, AttemptEnd, Running, Why, vouched
from jobrunner.run.concurrency import AdaptiveLimit, Slots
from jobrunner.run.leases import Held, LeaseKeeper, Waiting
from jobrunner.run.offload import StoreCalls
from jobrunner.run.outcomes import Counts, JobOutcome, RunSnapshot, RunSummary
from jobrunner.run.shutdown import Shutdown, can_handle_signals
from jobrunner.run.sight import Sight
from jobrunner.store import ClaimedJob, JobState, ReapResult, Selector, Store, make_owner

logger = logging.getLogger(__name__)

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
    ``retry_failed``: queue the failed jobs again first. ``no_wait``: end when nothing is
    claimable now, instead of waiting for the jobs that other workers' leases hold (live
    workers, or other hosts' until their leases expire). ``handle_signals``: SIGINT/SIGTERM
    stop the run gracefully (main thread only; without it a Ctrl-C aborts the sessions and the
    leases expire). ``probe``: one session until a handshake succeeds. ``seed``: the backoff
    jitter's random seed.
    """

    label: str | None = None
    limit: int | None = None
    max_attempts: int | None = None
    retry_failed: bool = False
    no_wait: bool = False
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
        #: this worker's attempts by (job id, attempt number): after ``cancel`` and ``retry``
        #: the same job may be claimed again while its old attempt is still winding down
        self.running: dict[Held, Running] = {}
        self.counts = Counts()
        self.shutdown = Shutdown(
            settings.grace_seconds, clock=clock, cancel_all=partial(self._cancel_all, "stop")
        )
        self.connected_once = False  # a handshake succeeded in this run
        self.sight = Sight()  # the files this run could and could not open
        self._on_outcome = on_outcome
        self._on_progress = on_progress
        self._started = clock()
        # anyio primitives need the event loop: made in run()
        self._pulse: anyio.Event
        self._calls: StoreCalls
        self._keeper: LeaseKeeper
        self._waiting: Waiting = Waiting()
        self.slots: Slots
        self._claim_scope: anyio.CancelScope

    @property
    def stopping(self) -> bool:
        return self.shutdown.stopping

    def _changed(self) -> None:
        """Wake whoever waits for a slot, the end of a session or a limit change."""
        self._pulse.set()
        self._pulse = anyio.Event()
        if self._on_progress is not None:
            self._on_progress(self.snapshot())

    def snapshot(self) -> RunSnapshot:
        now = self.clock()
        return RunSnapshot.of(
            self.counts,
            elapsed_s=now - self._started,
            running=[(r.job.duration_s, now - r.started) for r in self.running.values()],
            limit=self.limit.limit,
            ceiling=self.limit.ceiling,
            pace=self.settings.pace,
            stopping=self.stopping,
            waiting=self._waiting.at(now),
        )

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        self._pulse = anyio.Event()
        self._calls = StoreCalls()
        self.slots = self.limit.open_slots()
        self._claim_scope = anyio.CancelScope()
        self._keeper = keeper = LeaseKeeper(
            self.store,
            self.owner,
            self.settings.lease_ttl_s,
            calls=self._calls,
            held=lambda: vouched(self.running, self.clock()),
            lost=self._leases_lost,
            reaped=self._note_reaped,
            clock=self.clock,
        )
        if self.options.retry_failed:
            selector = Selector(label=self.options.label, states=(JobState.FAILED,))
            requeue = partial(self.store.requeue, max_attempts=self.options.max_attempts)
            ids = await self._calls(requeue, selector)
            self.counts = replace(self.counts, requeued_failed=len(ids))
        await keeper.reap()  # a crash on this machine: its jobs are ours to run at once
        await self._refresh_queue()
        async with anyio.create_task_group() as tg:
            tg.start_soon(keeper.run)
            if self.options.handle_signals and can_handle_signals():
                await tg.start(self.shutdown.watch_signals, self.request_stop)
            if self._on_progress is not None:
                tg.start_soon(self._refresh_loop)
            await self._claim_loop(tg)
            await self.shutdown.finish(self.running, lambda: self._pulse)
            tg.cancel_scope.cancel()
        return await self._summary()

    def request_stop(self, *, error: JobrunnerError | None = None, hard: bool = False) -> None:
        """Stop claiming. Running sessions get ``grace_seconds`` (none when ``hard``, on a
        second call, or for an ``error`` that stops the run); then they are cancelled and their
        jobs released (:mod:`jobrunner.run.shutdown`)."""
        self.shutdown.request(error=error, hard=hard)
        self._claim_scope.cancel()
        self._changed()

    def _cancel_all(self, why: Why) -> None:
        for running in self.running.values():
            running.cancel(why)

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
            jobs: list[ClaimedJob] = await self._calls(
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
                    await self._calls(self.store.release, job.id, self.owner)
                except StoreError as exc:
                    logger.warning("job %d: release failed (the reaper will): %s", job.id, exc)
            return len(jobs)
        context = self._attempt_context()
        for job, token in zip(jobs, tokens, strict=False):
            self._stale(job.id)
            self.counts = self.counts if job.parent_id else self.counts.took(job.duration_s)
            running = Running(job, anyio.Event(), started=self.clock())
            self.running[job.id, job.attempt] = running
            tg.start_soon(self._session, Attempt(context, running), token)
        if jobs:
            self._waiting = Waiting()
            self._changed()
        return len(jobs)

    def _stale(self, job_id: int) -> None:
        """We claimed ``job_id`` again (``cancel``, then ``retry``, while its old attempt
        still ran here): the old attempt's lease is gone, stop its session now."""
        for (held_id, attempt), running in self.running.items():
            if held_id == job_id:
                logger.info("job %d: claimed again; stopping its attempt %d", job_id, attempt)
                running.cancel("lease")

    def _claims_left(self) -> int:
        limit = self.options.limit
        return CLAIM_BATCH if limit is None else limit - self.counts.claimed

    async def _wait_for_work(self) -> bool:
        """After a claim came back short: wait until a job may be claimable. False when the
        run is done: nothing queued, nothing running here, and (unless ``no_wait``) no job
        running under another worker's lease, which could come back to the queue."""
        pulse, label = self._pulse, self.options.label
        # first: whatever others() reaps is queued by the time next_run_after looks
        others = Waiting() if self.options.no_wait else await self._keeper.others(label)
        due = await self._calls(self.store.next_run_after, label)
        if due is None and not self.running and not others:
            return False
        if others or self._waiting:
            self._waiting = others
            self._changed()
        poll = min(MAX_POLL_S, self.settings.lease_ttl_s / 3)
        if due is not None:
            poll = min(poll, max(0.05, (due - self.store.now()).total_seconds()))
        if others:  # look again as the first of their leases expires
            poll = min(poll, max(0.05, others.expires_in(self.clock())))
        with anyio.move_on_after(poll):
            await pulse.wait()
        return True

    # --- one job --------------------------------------------------------------------------

    def _attempt_context(self) -> AttemptContext:
        return AttemptContext(
            store=self.store,
            calls=self._calls,
            owner=self.owner,
            settings=self.settings,
            policy=self.policy,
            max_attempts=self.options.max_attempts,
            clock=self.clock,
            jitter=self.rng.random,
            connected=lambda: self.connected_once,
            on_connected=self._on_connected,
            on_connect_retry=self._on_connect_retry,
            sight=self.sight,
            busy=lambda: len(self.running) - 1,  # sessions beside the asking attempt's
        )

    async def _session(self, attempt: Attempt, token: object) -> None:
        job_id, key = attempt.job.id, (attempt.job.id, attempt.job.attempt)
        end: AttemptEnd | None = None
        try:
            end = await attempt.run()
        except Exception:  # our own bookkeeping failed: the lease expires, the reaper recovers
            logger.exception("job %d: unexpected error in the worker", job_id)
        finally:
            if end is not None:
                self._act_on(end)
            if self.running.get(key) is attempt.running:
                del self.running[key]
            self.slots.release_on_behalf_of(token)
            if end is not None:
                self.counts = self.counts.counted(end.outcome)
            self._changed()
        if end is not None and self._on_outcome is not None:
            self._on_outcome(end.outcome)

    def _act_on(self, end: AttemptEnd) -> None:
        """What an attempt's end asks of the run, before its slot frees."""
        if end.rate_limited:
            self._rate_limited()
        if end.stop is not None:
            self.request_stop(error=end.stop)

    # --- callbacks from sessions and the lease keeper -------------------------------------

    def _on_connected(self) -> None:
        self.connected_once = True
        if self.limit.connected():
            self._limit_changed()

    def _on_connect_retry(self, error: SessionError, delay_s: float) -> None:
        self.counts = replace(self.counts, connect_retries=self.counts.connect_retries + 1)
        if isinstance(error, RateLimitedError):
            self._rate_limited()

    def _rate_limited(self) -> None:
        self.counts = replace(self.counts, rate_limited=self.counts.rate_limited + 1)
        if self.limit.rate_limited():
            self._limit_changed()

    def _limit_changed(self) -> None:
        self.slots.total_tokens = self.limit.limit
        logger.info("live concurrency %d (ceiling %d)", self.limit.limit, self.limit.ceiling)
        self._changed()

    def _leases_lost(self, held: set[Held]) -> None:
        for job_id, attempt in held:
            running = self.running.get((job_id, attempt))
            if running is not None and running.streaming:
                logger.info("job %d attempt %d: lease gone; stopping it", job_id, attempt)
                running.cancel("lease")

    def _note_reaped(self, result: ReapResult) -> None:
        reaped = len(result.requeued) + len(result.failed)
        self.counts = replace(self.counts, reaped=self.counts.reaped + reaped)
        if result.requeued:
            self._changed()

    # --- progress totals and the summary ---------------------------------------------------

    async def _refresh_queue(self) -> None:
        """Queued jobs and audio for progress (an estimate with a label filter)."""
        try:
            if self.options.label is None:
                report = await self._calls(self.store.status)
                state = next(s for s in report.states if s.state == JobState.QUEUED.value)
                queued, audio_s = state.jobs, state.audio_s
            else:
                label, states = self.options.label, [JobState.QUEUED.value]
                queued = await self._calls(partial(self.store.count, states=states, label=label))
                audio_s = queued * self.counts.mean_claimed_s
        except StoreError as exc:
            logger.warning("progress totals not refreshed: %s", exc)
            return
        self.counts = replace(self.counts, queued=queued, queued_audio_s=audio_s)

    async def _refresh_loop(self) -> None:
        while True:
            await anyio.sleep(2.0)
            await self._refresh_queue()
            self._changed()

    async def _summary(self) -> RunSummary:
        others = 0
        try:
            report = await self._calls(self.store.status)
            others = sum(w.running for w in report.workers if w.owner != self.owner)
        except StoreError as exc:
            logger.warning("cannot tell whether other workers still run jobs: %s", exc)
        return RunSummary(
            counts=self.counts,
            elapsed_s=self.clock() - self._started,
            ceiling=self.limit.ceiling,
            final_limit=self.limit.limit,
            lowest_limit=self.limit.lowest,
            interrupted=self.shutdown.interrupted,
            stop_error=self.shutdown.error,
            others_running=others,
        )


__all__ = ["CLAIM_BATCH", "MAX_POLL_S", "OnOutcome", "OnProgress", "RunOptions", "Worker"]
