"""One claimed job: stream it through one session, end the attempt with exactly one store verb
(one transaction), and hand back an :class:`AttemptEnd`: the outcome, and what the run must do
about it (stop, lower the concurrency).

The attempt sees the run only through its frozen :class:`AttemptContext` (store calls,
settings, retry policy, clock, jitter and callbacks), so imports run one way: the worker knows
the attempt, never the reverse. What becomes of a failed job is :func:`jobrunner.retry.decide`,
a pure function; this module does that decision's I/O (the record, the store verb, the log).

The writes are :class:`~jobrunner.run.recorder.Recorder`'s: fenced by the lease, and when the
lease is gone nothing is written (the job is someone else's now). Any other failure of the
final write is the attempt's failure, recorded with its real reason (kind ``store``): a result
that cannot be stored is retried like any transient failure, never mistaken for a lost lease.

Two watches run with each session. Its watchdog (:mod:`jobrunner.run.watchdog`) abandons a
session that outlives its deadline and records it as ``stalled``; past that deadline its lease
is not renewed (:func:`vouched`). And each file tried is reported to the run's
:class:`~jobrunner.run.sight.Sight`: a worker that finds most files missing stops the run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from jobrunner.config import Settings
from jobrunner.errors import (
    FileUnavailableError,
    JobrunnerError,
    RateLimitedError,
    ResultNotStoredError,
    SessionCancelled,
    SessionError,
    SessionStalledError,
    StaleStateError,
)
from jobrunner.retry import Action, Decision, RetryPolicy, decide, describe, error_kind
from jobrunner.run.offload import StoreCalls
from jobrunner.run.outcomes import JobOutcome, Outcome
from jobrunner.run.recorder import Recorder
from jobrunner.run.records import (
    bare_record,
    check_complete,
    enqueued_of,
    failure_record,
    job_settings,
    span_of,
)
from jobrunner.run.sight import Sight
from jobrunner.run.watchdog import session_budget_s
from jobrunner.store import ClaimedJob, Store, utcnow

if TYPE_CHECKING:  # the session client (numpy, soundfile, websockets) loads with the first job
    from jobrunner.client.results import LiveEvent
    from jobrunner.run.endpoints import Result

logger = logging.getLogger(__name__)

K = TypeVar("K")
Why = Literal["lease", "stalled", "stop"]
#: which reason wins when several stop one session: a lost lease forbids any write, a stall
#: is a failure worth recording, a shutdown only gives the job back
_PRECEDENCE: dict[Why, int] = {"stop": 0, "stalled": 1, "lease": 2}


@dataclass
class Running:
    """A job this worker holds. ``cancel`` stops its session: ``"lease"`` (not ours any more:
    write nothing), ``"stalled"`` (past its watchdog ``deadline``: record a failure) or
    ``"stop"`` (shutdown: give it back). ``deadline`` is on the worker's clock; past it the
    session is presumed hung and its lease is not renewed any more (:func:`vouched`)."""

    job: ClaimedJob
    cancel_event: anyio.Event
    started: float
    streaming: bool = True
    why: Why | None = None
    deadline: float = math.inf

    def cancel(self, why: Why) -> None:
        if self.why is None or _PRECEDENCE[why] > _PRECEDENCE[self.why]:
            self.why = why
        self.cancel_event.set()

    def overdue(self, now: float) -> bool:
        return now >= self.deadline


def vouched(running: Mapping[K, Running], now: float) -> set[K]:
    """The entries whose leases are worth renewing at ``now``: all but the sessions past their
    watchdog deadline. A hung session's lease then expires and the job is reaped, even when
    its worker can record nothing (its thread, or its store call, hangs too)."""
    return {key for key, entry in running.items() if not entry.overdue(now)}


@dataclass(frozen=True)
class AttemptContext:
    """What an attempt may use of its run; the same for every attempt of the run.

    ``connected`` says whether a handshake succeeded earlier in the run (a fact of the retry
    decision); ``on_connected`` hears of this attempt's first server event and
    ``on_connect_retry`` of each connect try the transport will retry. ``sight`` is the run's
    record of the files its attempts could and could not open.
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
    sight: Sight
    #: sessions the run holds beside the asking attempt's (whether a split would fill idle ones)
    busy: Callable[[], int] = lambda: 0


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
        self.endpoint = ctx.settings.endpoint
        self.store = Recorder(ctx.store, ctx.calls, ctx.owner, self.job, self._outcome)

    async def run(self) -> AttemptEnd:
        ctx, running, job = self.ctx, self.running, self.job
        if job.parent_id is None and job.whole:
            split = await self._split()
            if split is not None:
                return split
        started_at, origin = utcnow(), ctx.clock()
        budget = session_budget_s(job.duration_s, ctx.settings)
        from jobrunner.client.batch import BatchResult  # the client loads with the first job
        from jobrunner.client.results import SessionResult

        running.deadline = origin + budget
        result: Result | None = None
        error: BaseException | None = None
        try:
            async with anyio.create_task_group() as watch:
                watch.start_soon(self._watchdog, budget)
                try:
                    from jobrunner.run.endpoints import open_session  # with the first job

                    settings = job_settings(ctx.settings, job.settings)
                    self.endpoint = settings.endpoint
                    result = await open_session(
                        ctx.store,
                        job,
                        settings,
                        on_event=self._on_event,
                        on_answer=self._answered,
                        clock=ctx.clock,
                        cancel_event=running.cancel_event,
                        on_connect_retry=ctx.on_connect_retry,
                        enqueued=enqueued_of(job),
                        span=span_of(job),
                    )
                    if isinstance(result, SessionResult):
                        error = check_complete(job, result, settings.chunk_ms)
                except Exception as exc:
                    error = exc
                finally:
                    watch.cancel_scope.cancel()
        finally:
            running.streaming = False
        self.wall_s = ctx.clock() - origin
        if isinstance(result, SessionResult):
            self.audio_s = result.audio_s_sent
        elif isinstance(result, BatchResult):
            self.audio_s = result.plan.duration_s
        elif isinstance(error, SessionError) and error.facts is not None:
            self.audio_s = error.facts.audio_s_sent
        if running.why == "lease":
            return AttemptEnd(await self.store.lost())
        if running.why == "stop" and error is not None:
            return AttemptEnd(await self.store.release())
        blind = None if running.why else ctx.sight.saw(job.path, _missing(error))
        if error is None and result is not None:
            end = AttemptEnd(await self._complete(result, origin, started_at))
        else:
            if running.why == "stalled" and isinstance(error, SessionCancelled):
                error = SessionStalledError(
                    f"session stalled: not over {budget:.0f} s after it began (connect, the "
                    "audio at its pace, the drain and a margin); a file read may hang",
                    facts=error.facts,
                )
            assert error is not None
            end = await self._failed(error, result, started_at)
        if blind is not None and end.stop is None:
            return AttemptEnd(end.outcome, stop=blind, rate_limited=end.rate_limited)
        return end

    async def _watchdog(self, budget_s: float) -> None:
        await anyio.sleep(budget_s)
        logger.warning(
            "job %d: session not over %.0f s after it began; abandoning it (a hung read?)",
            self.job.id,
            budget_s,
        )
        self.running.cancel("stalled")

    async def _split(self) -> AttemptEnd | None:
        """Split the job into pieces when it is worth it (:mod:`jobrunner.run.splitting`):
        the ``split`` outcome, or ``None`` to stream it whole. A split that cannot be planned
        or stored leaves the job whole; a lost lease is the attempt's end."""
        from jobrunner.run import splitting  # speech maps: the audio stack, with the first job

        ctx, job = self.ctx, self.job
        settings = job_settings(ctx.settings, job.settings)
        if not splitting.worth_a_look(job, settings):
            return None
        try:
            share = 1
            if splitting.long_enough(job, settings):
                queued = await ctx.calls(ctx.store.claimable, settings.split_min_s)
                share = splitting.share_of(settings.concurrency, ctx.busy(), *queued)
            ranges = await anyio.to_thread.run_sync(splitting.plan, ctx.store, job, settings, share)
            if ranges is None:
                return None
            ids = await self.store.write(ctx.store.split, job.id, ctx.owner, job.attempt, ranges)
        except StaleStateError:
            return AttemptEnd(await self.store.lost())
        except Exception as exc:
            logger.warning("job %d: not split (%s); streamed whole", job.id, describe(exc))
            return None
        logger.info("job %d: split into %d pieces", job.id, len(ids))
        return AttemptEnd(self._outcome("split", reason=f"split into {len(ids)} pieces"))

    def _on_event(self, live: LiveEvent) -> None:
        self._answered()

    def _answered(self) -> None:
        """The service answered (an event, an HTTP answer): the URL and the network are fine."""
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
            parent_id=job.parent_id,
            **fields,
        )

    async def _complete(self, result: Result, origin: float, started_at: datetime) -> JobOutcome:
        from jobrunner.run.endpoints import completion

        ctx, job, now = self.ctx, self.job, self.ctx.clock()
        try:
            done = await completion(
                ctx.store, job, ctx.owner, result, origin=origin, now=now, endpoint=self.endpoint
            )
            parent_state = await self.store.write(
                ctx.store.complete,
                job.id,
                ctx.owner,
                done.record,
                done.rows,
                done.transcript,
                language=done.language,
                duration_s=done.duration_s,
            )
        except StaleStateError:  # the lease is gone (or the job): nothing was written
            return await self.store.lost()
        except Exception as exc:  # anything else: the attempt failed, and says why
            error = ResultNotStoredError(f"the result could not be stored: {describe(exc)}")
            return (await self._failed(error, result, started_at)).outcome
        return self._outcome(
            "succeeded",
            turns=len(done.rows),
            transcript=result.transcript,
            request_id=result.request_id,
            turns_ended_by_close=getattr(result, "turns_ended_by_close", 0),
            parent_state=None if parent_state is None else parent_state.value,
        )

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
        self, error: BaseException, result: Result | None, started_at: datetime
    ) -> AttemptEnd:
        if not isinstance(error, JobrunnerError):
            logger.error("job %d: unexpected error", self.job.id, exc_info=error)
        decision = self._decide(error)
        limited = isinstance(error, RateLimitedError)
        if decision.action in (Action.STOP, Action.RELEASE):
            return AttemptEnd(await self.store.release(), decision.stop_error, limited)
        job, owner, ended_at = self.job, self.ctx.owner, utcnow()
        kind, reason = error_kind(error), describe(error)
        times: dict[str, Any] = {"started_at": started_at, "ended_at": ended_at}
        from jobrunner.client.results import SessionResult

        session = result if isinstance(result, SessionResult) else None
        record = failure_record(
            job, owner, error, kind=kind, reason=reason, result=session, **times
        )
        bare = bare_record(job, owner, kind=decision.kind, reason=decision.reason, **times)
        record, bare = (replace(r, endpoint=self.endpoint) for r in (record, bare))
        return AttemptEnd(await self.store.failure(decision, record, bare), rate_limited=limited)


def _missing(error: BaseException | None) -> bool:
    """Whether the attempt found its file missing or unreadable (the run's sight counts it)."""
    return isinstance(error, FileUnavailableError)


__all__ = ["Attempt", "AttemptContext", "AttemptEnd", "Running", "Why", "vouched"]
