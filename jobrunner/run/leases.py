"""Lease upkeep for one worker: renew every running job's lease, reap dead workers' leases.

Every ``ttl / 3`` seconds the leases of *all* the worker's running jobs are renewed in one store
call (one short write transaction however many sessions run). A job missing from the ids the
store hands back is no longer ours: cancelled by ``jobrunner cancel``, or reaped and claimed by
another worker after we failed to renew in time. The worker is told so it can stop that
session and write nothing for it. Every ``ttl`` seconds expired leases of any worker (crashed,
killed, hung) are reaped back to the queue, so a live worker picks their jobs up.

The store is only reached through ``calls`` (:class:`~jobrunner.run.offload.StoreCalls`, with
its own thread limiter): a hundred sessions reading audio never delay a renewal. A renewal or a reap
that fails (the database is briefly unavailable) is logged and tried again next round; the
leases' TTL is the margin for that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from jobrunner.errors import StoreError
from jobrunner.run.offload import StoreCalls
from jobrunner.store import ReapResult, Store

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Renewal and reaping rounds; :meth:`run` loops until cancelled. ``held`` names the jobs
    to renew; ``lost`` hears of those that are not ours any more, ``reaped`` of every reap
    that moved a job."""

    def __init__(
        self,
        store: Store,
        owner: str,
        ttl: float,
        *,
        calls: StoreCalls,
        held: Callable[[], set[int]],
        lost: Callable[[set[int]], None],
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

    async def renew(self) -> set[int]:
        """Renew the held leases; returns (and reports) the jobs that are not ours any more.
        A failed renewal loses nothing: it is logged and tried again next round."""
        ids = self._held()
        if not ids:
            return set()
        try:
            kept = await self._calls(self.store.renew_leases, self.owner, ids, self.ttl)
        except StoreError as exc:
            logger.warning("lease renewal failed (retrying in %.1f s): %s", self.interval, exc)
            return set()
        if gone := ids - kept:
            self._lost(gone)
        return gone

    async def reap(self) -> ReapResult:
        """Reap every worker's expired leases; a failure is logged and reaps nothing."""
        try:
            result = await self._calls(self.store.reap_expired)
        except StoreError as exc:
            logger.warning("reaping expired leases failed: %s", exc)
            return ReapResult()
        if result.requeued or result.failed:
            logger.info(
                "reaped expired leases: %d jobs back to the queue, %d failed (attempts used up)",
                len(result.requeued),
                len(result.failed),
            )
            self._reaped(result)
        return result

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


__all__ = ["LeaseKeeper"]
