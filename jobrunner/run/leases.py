"""Lease upkeep for one worker: renew its running attempts' leases, reap dead workers' leases,
and tell a worker with nothing to claim whose leases it waits for.

Every ``ttl / 3`` seconds the leases of *all* the worker's running attempts are renewed in one
store call (one short write transaction however many sessions run). Leases are held per
attempt, ``(job id, attempt number)``: an attempt missing from the pairs the store hands back
is no longer ours (cancelled by ``jobrunner cancel``, reaped and claimed by another worker after
we failed to renew in time, or claimed again by us after ``cancel`` and ``retry``), and the
worker is told so it can stop that session and write nothing for it.

Reaping, every ``ttl`` seconds and whenever the worker has nothing to claim: expired leases
(any worker's: crashed, killed, hung, on any machine), and at once the leases of owners whose
process is known to be gone (same machine, same boot, that pid no longer that process: see
:mod:`jobrunner.owner`), so after a crash ``jobrunner run`` on the same machine starts on them
at once. Either way the lost attempt counts against the job's budget (a file that kills its
worker every time fails after ``max_attempts``). Leases of other hosts and of live processes
are left to expire; :meth:`LeaseKeeper.others` says whose they are and when they expire, so the
worker can wait for them.

The store is only reached through ``calls`` (:class:`~jobrunner.run.offload.StoreCalls`, with
its own thread limiter): a hundred sessions reading audio never delay a renewal. A renewal or a
reap that fails (the database is briefly unavailable) is logged and tried again next round; the
leases' TTL is the margin for that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from jobrunner.errors import StoreError
from jobrunner.owner import is_gone, parse_owner
from jobrunner.run.offload import StoreCalls
from jobrunner.run.outcomes import LeaseWait
from jobrunner.store import LeaseHolder, ReapResult, Store

logger = logging.getLogger(__name__)


#: a held lease: (job id, attempt number)
Held = tuple[int, int]


@dataclass(frozen=True)
class Waiting:
    """Other workers' leases a worker with nothing to claim waits for: per holder, its jobs
    and when its first lease expires, as a deadline on the worker's monotonic clock (so the
    progress can count down between looks at the store)."""

    leases: tuple[tuple[str, int, float], ...] = ()  # (holder, jobs, deadline)

    @classmethod
    def of(cls, holders: Sequence[LeaseHolder], now: float) -> Waiting:
        return cls(tuple((_who(h.owner), h.jobs, now + h.expires_in_s) for h in holders))

    def __bool__(self) -> bool:
        return bool(self.leases)

    def expires_in(self, now: float) -> float:
        """Seconds until the first of these leases expires (negative: expired)."""
        return min(deadline for _, _, deadline in self.leases) - now

    def at(self, now: float) -> tuple[LeaseWait, ...]:
        return tuple(LeaseWait(who, jobs, deadline - now) for who, jobs, deadline in self.leases)


def _who(owner: str) -> str:
    """``host:pid`` of an owner id, or the id itself when it has another form."""
    held = parse_owner(owner)
    return owner if held is None else f"{held.host}:{held.pid}"


class LeaseKeeper:
    """Renewal and reaping rounds; :meth:`run` loops until cancelled. ``held`` names the
    attempts to renew; ``lost`` hears of those that are not ours any more, ``reaped`` of every
    reap that moved a job."""

    def __init__(
        self,
        store: Store,
        owner: str,
        ttl: float,
        *,
        calls: StoreCalls,
        held: Callable[[], set[Held]],
        lost: Callable[[set[Held]], None],
        reaped: Callable[[ReapResult], None],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.interval = ttl / 3
        self._calls = calls
        self._held = held
        self._lost = lost
        self._reaped = reaped
        self._clock = clock
        self._next_reap = clock() + ttl
        self._waiting = Waiting()

    async def renew(self) -> set[Held]:
        """Renew the held leases; returns (and reports) the attempts that are not ours any
        more. A failed renewal loses nothing: it is logged and tried again next round."""
        held = self._held()
        if not held:
            return set()
        try:
            kept = await self._calls(self.store.renew_leases, self.owner, held, self.ttl)
        except StoreError as exc:
            logger.warning("lease renewal failed (retrying in %.1f s): %s", self.interval, exc)
            return set()
        if gone := held - kept:
            self._lost(gone)
        return gone

    async def reap(self) -> ReapResult:
        """Reap every worker's expired leases, and the leases of owners whose process is gone;
        a failure is logged and reaps nothing more."""
        expired = gone = ReapResult()
        try:
            expired = await self._calls(self.store.reap_expired)
            if owners := await self._calls(self._gone_owners):
                gone = await self._calls(self.store.reap_owners, owners)
        except StoreError as exc:
            logger.warning("reaping dead workers' leases failed: %s", exc)
        for what, result in (("expired leases", expired), ("gone workers' leases", gone)):
            if result.requeued or result.failed:
                logger.info(
                    "reaped %s: %d jobs back to the queue, %d failed (attempts used up)",
                    what,
                    len(result.requeued),
                    len(result.failed),
                )
        result = ReapResult(expired.requeued + gone.requeued, expired.failed + gone.failed)
        if result.requeued or result.failed:
            self._reaped(result)
        return result

    def _gone_owners(self) -> list[str]:
        """Other owners holding leases whose process is known to be gone (blocking)."""
        return [h.owner for h in self.store.lease_holders() if self._gone(h)]

    def _gone(self, holder: LeaseHolder) -> bool:
        return holder.owner != self.owner and is_gone(holder.owner)

    async def others(self, label: str | None = None) -> Waiting:
        """Other owners' leases on running jobs (with ``label``) that this worker may get one
        day, after reaping what can be reaped now (expired, or their owner's process gone)."""
        holders = await self._others(label)
        if any(h.expires_in_s <= 0 or self._gone(h) for h in holders):
            await self.reap()
            holders = await self._others(label)
        waiting = Waiting.of(holders, self._clock())
        if waiting and [w[:2] for w in waiting.leases] != [w[:2] for w in self._waiting.leases]:
            logger.info(
                "waiting for %s",
                ", ".join(f"{jobs} jobs leased by {who}" for who, jobs, _ in waiting.leases),
            )
        self._waiting = waiting
        return waiting

    async def _others(self, label: str | None) -> list[LeaseHolder]:
        holders: Sequence[LeaseHolder] = await self._calls(self.store.lease_holders, label)
        return [h for h in holders if h.owner != self.owner]

    async def tick(self) -> None:
        """One round: renew, and reap when ``ttl`` has passed since the last reap."""
        await self.renew()
        if self._clock() >= self._next_reap:
            self._next_reap = self._clock() + self.ttl
            await self.reap()

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            await self.tick()


__all__ = ["Held", "LeaseKeeper", "Waiting"]
