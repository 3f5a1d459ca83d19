"""One claimed job in the worker: stream it through one session, then record the outcome with
exactly one store verb (one transaction), chosen by :func:`jobrunner.retry.decide`.

Every write is fenced by the lease and shielded from cancellation (``Worker.db``). When the
lease is gone (the job was cancelled, or reaped and taken) nothing is written: the store would
refuse it anyway, and the job is someone else's now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.errors import (
    JobrunnerError,
    LeaseLostError,
    RateLimitedError,
    SessionError,
    StoreError,
)
from jobrunner.retry import Action, Decision, decide, describe, error_kind
from jobrunner.run.outcomes import JobOutcome, Outcome
from jobrunner.run.records import (
    check_complete,
    failure_record,
    job_settings,
    success_record,
    turn_rows,
)
from jobrunner.store import ClaimedJob, JobState, utcnow

if TYPE_CHECKING:
    from jobrunner.run.worker import Worker

logger = logging.getLogger(__name__)

T = TypeVar("T")
Why = Literal["lease", "stop"]


@dataclass
class Running:
    """A job this worker holds. ``cancel`` stops its session: ``"lease"`` (not ours any more:
    write nothing) or ``"stop"`` (shutdown: give it back)."""

    job: ClaimedJob
    cancel_event: anyio.Event
    started: float
    connected: bool = False
    streaming: bool = True
    why: Why | None = None

    def cancel(self, why: Why) -> None:
        if self.why is None or why == "lease":
            self.why = why
        self.cancel_event.set()


class Attempt:
    def __init__(self, worker: Worker, running: Running) -> None:
        self.worker = worker
        self.running = running
        self.job = running.job
        self.wall_s = 0.0
        self.audio_s = 0.0

    async def run(self) -> JobOutcome:
        worker, running, job = self.worker, self.running, self.job
        started_at, origin = utcnow(), worker.clock()
        result: SessionResult | None = None
        error: BaseException | None = None
        try:
            settings = job_settings(worker.settings, job.settings)
            result = await transcribe_file(
                job.path,
                settings,
                on_event=partial(worker.on_event, running),
                clock=worker.clock,
                cancel_event=running.cancel_event,
                on_connect_retry=worker.on_connect_retry,
            )
            error = check_complete(job, result, settings.chunk_ms)
        except Exception as exc:
            error = exc
        finally:
            running.streaming = False
        self.wall_s = worker.clock() - origin
        if result is not None:
            self.audio_s = result.audio_s_sent
        elif isinstance(error, SessionError) and error.facts is not None:
            self.audio_s = error.facts.audio_s_sent
        if running.why == "lease":
            return await self._lost()
        if error is None and result is not None:
            return await self._complete(result, origin)
        assert error is not None
        if running.why == "stop":
            return await self._release()
        return await self._failed(error, result, started_at)

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

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A fenced store write, logged when the store refuses it."""
        try:
            return await self.worker.db(fn, *args, **kwargs)
        except LeaseLostError as exc:
            logger.info("job %d: %s; nothing written", self.job.id, exc)
            raise
        except StoreError as exc:
            logger.error("job %d: could not record the attempt: %s", self.job.id, exc)
            raise

    async def _complete(self, result: SessionResult, origin: float) -> JobOutcome:
        worker, job = self.worker, self.job
        record = success_record(job, worker.owner, result)
        rows = turn_rows(result.turns, origin)
        try:
            await self._write(
                worker.store.complete, job.id, worker.owner, record, rows, result.transcript
            )
        except StoreError as exc:
            return await self._lost(exc)
        return self._outcome(
            "succeeded",
            turns=len(rows),
            transcript=result.transcript,
            request_id=result.request_id,
        )

    async def _release(self) -> JobOutcome:
        try:
            await self._write(self.worker.store.release, self.job.id, self.worker.owner)
        except StoreError as exc:
            return await self._lost(exc)
        return self._outcome("released", reason="given back at shutdown (no attempt spent)")

    async def _lost(self, exc: StoreError | None = None) -> JobOutcome:
        """Our lease is gone: say whether the job was cancelled, or lost to the reaper."""
        if exc is not None and not isinstance(exc, LeaseLostError):
            return self._outcome("lost", error_kind=exc.kind, reason=str(exc))
        state = None
        try:
            view = await self.worker.db(self.worker.store.job, self.job.id)
            state = None if view is None else view.state
        except StoreError:
            pass
        if state == JobState.CANCELLED.value:
            return self._outcome("cancelled", error_kind="cancelled", reason="cancelled")
        return self._outcome("lost", error_kind="lease_lost", reason="lease lost; not recorded")

    def _decide(self, error: BaseException) -> Decision:
        worker, job = self.worker, self.job
        left = job.attempts_left
        if worker.options.max_attempts is not None:
            left = min(left, worker.options.max_attempts - job.budget_attempt)
        return decide(
            worker.policy,
            attempt=job.budget_attempt,
            attempts_left=left,
            error=error,
            connected=worker.connected_once,
            now=worker.store.now(),
            jitter=worker.rng.random(),
        )

    async def _failed(
        self, error: BaseException, result: SessionResult | None, started_at: datetime
    ) -> JobOutcome:
        worker, job = self.worker, self.job
        if isinstance(error, RateLimitedError):
            worker.rate_limited()
        if not isinstance(error, JobrunnerError):
            logger.error("job %d: unexpected error", job.id, exc_info=error)
        decision = self._decide(error)
        if decision.action is Action.STOP:
            worker.request_stop(error=decision.stop_error)
            return await self._release()
        if decision.action is Action.RELEASE:
            return await self._release()
        record = failure_record(
            job,
            worker.owner,
            error,
            kind=error_kind(error),
            reason=describe(error),
            started_at=started_at,
            ended_at=utcnow(),
            result=result,
        )
        fields: dict[str, Any] = {
            "error_kind": decision.kind,
            "reason": decision.reason,
            "request_id": record.request_id,
        }
        try:
            if decision.action is Action.RETRY:
                assert decision.run_after is not None
                state = await self._write(
                    worker.store.retry_later, job.id, worker.owner, record, decision.run_after
                )
                if state is JobState.QUEUED:
                    logger.info(
                        "job %d attempt %d failed (%s); retry in %.1f s: %s",
                        job.id,
                        job.attempt,
                        decision.kind,
                        decision.delay_s,
                        decision.reason,
                    )
                    return self._outcome("retry", run_after=decision.run_after, **fields)
                return self._outcome("failed", **fields)
            invalid = decision.action is Action.INVALID
            await self._write(
                worker.store.fail,
                job.id,
                worker.owner,
                record,
                decision.reason,
                decision.kind,
                invalid=invalid,
            )
        except StoreError as exc:
            return await self._lost(exc)
        logger.warning("job %d %s: %s", job.id, "invalid" if invalid else "failed", decision.reason)
        return self._outcome("invalid" if invalid else "failed", **fields)


__all__ = ["Attempt", "Running"]
