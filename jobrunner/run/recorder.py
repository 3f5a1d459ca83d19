"""An attempt's end in the store: the fenced verbs, and what an attempt does when they fail.

Every write is fenced by the lease and shielded from cancellation (:class:`StoreCalls`). A
:class:`StaleStateError` means the lease is gone (the job was cancelled, or reaped and taken):
nothing was written and nothing more may be, so the outcome says whether it was cancelled or
lost. Any other failure is not a lost lease and must never leave the job ``running``: a failure
whose full record is refused (one of its values) is written again with its reason alone, and
when even that fails the job stays ``running`` only until its lease expires and is reaped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from jobrunner.errors import StaleStateError
from jobrunner.retry import Action, Decision, describe, error_kind
from jobrunner.run.offload import StoreCalls
from jobrunner.run.outcomes import JobOutcome
from jobrunner.store import AttemptRecord, ClaimedJob, JobState, Store

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: builds the attempt's :class:`JobOutcome` (``Attempt._outcome``): an outcome and its fields
MakeOutcome = Callable[..., JobOutcome]


class Recorder:
    """The store verbs of one attempt at ``job``, held by ``owner``."""

    def __init__(
        self, store: Store, calls: StoreCalls, owner: str, job: ClaimedJob, outcome: MakeOutcome
    ) -> None:
        self.store = store
        self.calls = calls
        self.owner = owner
        self.job = job
        self.outcome = outcome

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A fenced store write, logged when the store refuses it."""
        try:
            return await self.calls(partial(fn, *args, **kwargs))
        except StaleStateError as exc:
            logger.info("job %d: %s; nothing written", self.job.id, exc)
            raise
        except Exception as exc:
            logger.error("job %d: could not record the attempt: %s", self.job.id, describe(exc))
            raise

    async def release(self) -> JobOutcome:
        try:
            await self.write(self.store.release, self.job.id, self.owner)
        except StaleStateError:
            return await self.lost()
        except Exception as exc:
            return self.outcome("lost", error_kind=error_kind(exc), reason=describe(exc))
        return self.outcome("released", reason="given back at shutdown (no attempt spent)")

    async def lost(self) -> JobOutcome:
        """Our lease is gone: say whether the job was cancelled, or lost to the reaper."""
        state = None
        try:
            view = await self.calls(self.store.job, self.job.id)
            state = None if view is None else view.state
        except Exception as read_error:
            logger.warning(
                "job %d: lease gone; cannot tell whether it was cancelled: %s",
                self.job.id,
                describe(read_error),
            )
        if state == JobState.CANCELLED.value:
            return self.outcome("cancelled", error_kind="cancelled", reason="cancelled")
        return self.outcome("lost", error_kind="lease_lost", reason="lease lost; not recorded")

    async def failure(
        self, decision: Decision, record: AttemptRecord, bare: AttemptRecord
    ) -> JobOutcome:
        """Record a failed attempt as decided: ``record``, or when the store refuses it for
        another reason than a lost lease, ``bare`` (its reason alone)."""
        try:
            return await self._failure(decision, record)
        except StaleStateError:
            return await self.lost()
        except Exception:
            pass
        try:
            return await self._failure(decision, bare)
        except StaleStateError:
            return await self.lost()
        except Exception as exc:
            reason = (
                f"{decision.reason}; recording it failed too ({describe(exc)}): the job goes "
                "back to the queue when its lease expires"
            )
            return self.outcome("retry", error_kind=decision.kind, reason=reason)

    async def _failure(self, decision: Decision, record: AttemptRecord) -> JobOutcome:
        """``retry_later`` or ``fail`` as decided; the store may still fail a retry for good
        (the job's own budget, counted in the database, ran out)."""
        job = self.job
        fields: dict[str, Any] = {
            "error_kind": decision.kind,
            "reason": decision.reason,
            "request_id": record.request_id,
        }
        if decision.action is Action.RETRY:
            assert decision.run_after is not None
            state = await self.write(
                self.store.retry_later, job.id, self.owner, record, decision.run_after
            )
            if state is not JobState.QUEUED:
                return self.outcome("failed", **fields)
            logger.info(
                "job %d attempt %d failed (%s); retry in %.1f s: %s",
                job.id,
                job.attempt,
                decision.kind,
                decision.delay_s,
                decision.reason,
            )
            return self.outcome("retry", run_after=decision.run_after, **fields)
        invalid = decision.action is Action.INVALID
        await self.write(
            self.store.fail, job.id, self.owner, record, decision.reason, decision.kind,
            invalid=invalid,
        )  # fmt: skip
        logger.warning("job %d %s: %s", job.id, "invalid" if invalid else "failed", decision.reason)
        return self.outcome("invalid" if invalid else "failed", **fields)


__all__ = ["MakeOutcome", "Recorder"]
