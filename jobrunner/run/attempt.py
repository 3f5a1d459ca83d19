"""One claimed job: stream it through one session, end the attempt with exactly one store verb
(one transaction), and hand back an :class:`AttemptEnd`: the outcome, and what the run must do
about it (stop, lower the concurrency).

The attempt sees the run only through its frozen :class:`AttemptContext` (store calls,
settings, retry policy, clock, jitter and callbacks), so imports run one way: the worker knows
the attempt, never the reverse. What becomes of a failed job is :func:`jobrunner.retry.decide`,
a pure function; this module does that decision's I/O (the record, the store verb, the log).

Every write is fenced by the lease and shielded from cancellation (:class:`StoreCalls`). When
the lease is gone (the job was cancelled, or reaped and taken) nothing is written: the store
would refuse it anyway, and the job is someone else's now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal, ParamSpec, TypeVar

import anyio

from jobrunner.client.auto import LiveEvent, SessionResult, transcribe_file
from jobrunner.config import Settings
from jobrunner.errors import (
    JobrunnerError,
    LeaseLostError,
    RateLimitedError,
    SessionError,
    StoreError,
)
from jobrunner.retry import Action, Decision, RetryPolicy, decide, describe, error_kind
from jobrunner.run.offload import StoreCalls
from jobrunner.run.outcomes import JobOutcome, Outcome
from jobrunner.run.records import (
    check_complete,
    failure_record,
    job_settings,
    success_record,
    turn_rows,
)
from jobrunner.store import AttemptRecord, ClaimedJob, JobState, Store, utcnow

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Why = Literal["lease", "stop"]


@dataclass
class Running:
    """A job this worker holds. ``cancel`` stops its session: ``"lease"`` (not ours any more:
    write nothing) or ``"stop"`` (shutdown: give it back)."""

    job: ClaimedJob
    cancel_event: anyio.Event
    started: float
    streaming: bool = True
    why: Why | None = None

    def cancel(self, why: Why) -> None:
        if self.why is None or why == "lease":
            self.why = why
        self.cancel_event.set()


@dataclass(frozen=True)
class AttemptContext:
    """What an attempt may use of its run; the same for every attempt of the run.

    ``connected`` says whether a handshake succeeded earlier in the run (a fact of the retry
    decision); ``on_connected`` hears of this attempt's first server event and
    ``on_connect_retry`` of each connect try the transport will retry.
    """

    store: Store
    calls: StoreCalls
    owner: str
    settings: Settings
    policy: RetryPolicy
    #: the run's attempt budget per job (``RunOptions.max_attempts``), below the job's own
    max_attempts: int | None
    clock: Callable[[], float]
    jitter: Callable[[], float]
    connected: Callable[[], bool]
    on_connected: Callable[[], None]
    on_connect_retry: Callable[[SessionError, float], None]


@dataclass(frozen=True)
class AttemptEnd:
    """An attempt's outcome, and what the run must do about it: ``stop`` the run with this
    error (the key, the settings or the URL is wrong, not the file), or lower the live
    concurrency because the service answered 429 (``rate_limited``)."""

    outcome: JobOutcome
    stop: JobrunnerError | None = None
    rate_limited: bool = False


class Attempt:
    """One attempt at one claimed job; :meth:`run` it once."""

    def __init__(self, ctx: AttemptContext, running: Running) -> None:
        self.ctx = ctx
        self.running = running
        self.job = running.job
        self.wall_s = 0.0
        self.audio_s = 0.0
        self._connected = False

    async def run(self) -> AttemptEnd:
        ctx, running, job = self.ctx, self.running, self.job
        started_at, origin = utcnow(), ctx.clock()
        result: SessionResult | None = None
        error: BaseException | None = None
        try:
            settings = job_settings(ctx.settings, job.settings)
            result = await transcribe_file(
                job.path,
                settings,
                on_event=self._on_event,
                clock=ctx.clock,
                cancel_event=running.cancel_event,
                on_connect_retry=ctx.on_connect_retry,
            )
            error = check_complete(job, result, settings.chunk_ms)
        except Exception as exc:
            error = exc
        finally:
            running.streaming = False
        self.wall_s = ctx.clock() - origin
        if result is not None:
            self.audio_s = result.audio_s_sent
        elif isinstance(error, SessionError) and error.facts is not None:
            self.audio_s = error.facts.audio_s_sent
        if running.why == "lease":
            return AttemptEnd(await self._lost())
        if error is None and result is not None:
            return AttemptEnd(await self._complete(result, origin))
        assert error is not None
        if running.why == "stop":
            return AttemptEnd(await self._release())
        return await self._failed(error, result, started_at)

    def _on_event(self, live: LiveEvent) -> None:
        if not self._connected:
            self._connected = True
            self.ctx.on_connected()

    def _outcome(self, outcome: Outcome, **fields: Any) -> JobOutcome:
        job = self.job
        return JobOutcome(
            job_id=job.id,
            path=job.path,
            label=job.label,
            outcome=outcome,
            attempt=job.attempt,
            duration_s=job.duration_s,
            audio_s=self.audio_s,
            wall_s=self.wall_s,
            **fields,
        )

    async def _write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A fenced store write, logged when the store refuses it."""
        try:
            return await self.ctx.calls(partial(fn, *args, **kwargs))
        except LeaseLostError as exc:
            logger.info("job %d: %s; nothing written", self.job.id, exc)
            raise
        except StoreError as exc:
            logger.error("job %d: could not record the attempt: %s", self.job.id, exc)
            raise

    async def _complete(self, result: SessionResult, origin: float) -> JobOutcome:
        ctx, job = self.ctx, self.job
        record = success_record(job, ctx.owner, result)
        rows = turn_rows(result.turns, origin)
        try:
            await self._write(
                ctx.store.complete, job.id, ctx.owner, record, rows, result.transcript
            )
        except StoreError as exc:
            return await self._lost(exc)
        return self._outcome(
            "succeeded",
            turns=len(rows),
            transcript=result.transcript,
            request_id=result.request_id,
            turns_ended_by_close=result.turns_ended_by_close,
        )

    async def _release(self) -> JobOutcome:
        try:
            await self._write(self.ctx.store.release, self.job.id, self.ctx.owner)
        except StoreError as exc:
            return await self._lost(exc)
        return self._outcome("released", reason="given back at shutdown (no attempt spent)")

    async def _lost(self, exc: StoreError | None = None) -> JobOutcome:
        """Our lease is gone: say whether the job was cancelled, or lost to the reaper."""
        if exc is not None and not isinstance(exc, LeaseLostError):
            return self._outcome("lost", error_kind=exc.kind, reason=str(exc))
        state = None
        try:
            view = await self.ctx.calls(self.ctx.store.job, self.job.id)
            state = None if view is None else view.state
        except StoreError as read_error:
            logger.warning(
                "job %d: lease gone; cannot tell whether it was cancelled: %s",
                self.job.id,
                read_error,
            )
        if state == JobState.CANCELLED.value:
            return self._outcome("cancelled", error_kind="cancelled", reason="cancelled")
        return self._outcome("lost", error_kind="lease_lost", reason="lease lost; not recorded")

    def _decide(self, error: BaseException) -> Decision:
        ctx, job = self.ctx, self.job
        left = job.attempts_left
        if ctx.max_attempts is not None:
            left = min(left, ctx.max_attempts - job.budget_attempt)
        return decide(
            ctx.policy,
            attempt=job.budget_attempt,
            attempts_left=left,
            error=error,
            connected=ctx.connected(),
            now=ctx.store.now(),
            jitter=ctx.jitter(),
        )

    async def _failed(
        self, error: BaseException, result: SessionResult | None, started_at: datetime
    ) -> AttemptEnd:
        if not isinstance(error, JobrunnerError):
            logger.error("job %d: unexpected error", self.job.id, exc_info=error)
        decision = self._decide(error)
        limited = isinstance(error, RateLimitedError)
        if decision.action in (Action.STOP, Action.RELEASE):
            return AttemptEnd(await self._release(), decision.stop_error, limited)
        record = failure_record(
            self.job,
            self.ctx.owner,
            error,
            kind=error_kind(error),
            reason=describe(error),
            started_at=started_at,
            ended_at=utcnow(),
            result=result,
        )
        try:
            outcome = await self._record_failure(decision, record)
        except StoreError as exc:
            return AttemptEnd(await self._lost(exc), rate_limited=limited)
        return AttemptEnd(outcome, rate_limited=limited)

    async def _record_failure(self, decision: Decision, record: AttemptRecord) -> JobOutcome:
        """``retry_later`` or ``fail`` as decided; the store may still fail a retry for good
        (the job's own budget, counted in the database, ran out)."""
        ctx, job = self.ctx, self.job
        fields: dict[str, Any] = {
            "error_kind": decision.kind,
            "reason": decision.reason,
            "request_id": record.request_id,
        }
        if decision.action is Action.RETRY:
            assert decision.run_after is not None
            state = await self._write(
                ctx.store.retry_later, job.id, ctx.owner, record, decision.run_after
            )
            if state is not JobState.QUEUED:
                return self._outcome("failed", **fields)
            logger.info(
                "job %d attempt %d failed (%s); retry in %.1f s: %s",
                job.id,
                job.attempt,
                decision.kind,
                decision.delay_s,
                decision.reason,
            )
            return self._outcome("retry", run_after=decision.run_after, **fields)
        invalid = decision.action is Action.INVALID
        await self._write(
            ctx.store.fail,
            job.id,
            ctx.owner,
            record,
            decision.reason,
            decision.kind,
            invalid=invalid,
        )
        logger.warning("job %d %s: %s", job.id, "invalid" if invalid else "failed", decision.reason)
        return self._outcome("invalid" if invalid else "failed", **fields)


__all__ = ["Attempt", "AttemptContext", "AttemptEnd", "Running", "Why"]
