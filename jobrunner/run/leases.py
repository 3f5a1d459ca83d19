"""Lease upkeep for one worker: renew every running job's lease, reap dead workers' leases.

Every ``ttl / 3`` seconds the leases of *all* the worker's running jobs are renewed in one store
call (one short write transaction however many sessions run). A job missing from the ids the
store hands back is no longer ours: cancelled by ``jobrunner cancel``, or reaped and claimed by
another worker after we failed to renew in time. The worker is told so it can stop that
session and write nothing for it. Every ``ttl`` seconds expired leases of any worker (crashed,
killed, hung) are reaped back to the queue, so a live worker picks their jobs up.

The store is only reached through ``call`` (the worker's ``to_thread`` wrapper with its own
thread limiter): a hundred sessions reading audio never delay a renewal. A renewal or a reap
that fails (the database is briefly unavailable) is logged and tried again next round; the
leases' TTL is the margin for that.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio

from jobrunner.errors import StoreError
from jobrunner.store import ReapResult, Store

logger = logging.getLogger(__name__)


class DbCall(Protocol):
    def __call__(self, fn: Callable[..., Any], /, *args: Any) -> Awaitable[Any]: ...


class LeaseKeeper:
    """Renewal and reaping rounds; :meth:`run` loops until cancelled."""

    def __init__(
        self,
        store: Store,
        owner: str,
        ttl: float,
        *,
        call: DbCall,
        held: Callable[[], set[int]],
        lost: Callable[[set[int]], None],
        reaped: Callable[[ReapResult], None],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.interval = ttl / 3
        self._call = call
        self._held = held
        self._lost = lost
        self._reaped = reaped
        self._clock = clock
        self._next_reap = clock() + ttl
        self.renewals = 0

    async def renew(self) -> None:
        ids = self._held()
        if not ids:
            return
        try:
            kept: set[int] = await self._call(self.store.renew_leases, self.owner, ids, self.ttl)
        except StoreError as exc:
            logger.warning("lease renewal failed (retrying in %.1f s): %s", self.interval, exc)
            return
        self.renewals += 1
        if gone := ids - kept:
            self._lost(gone)

    async def reap(self) -> ReapResult:
        try:
            result: ReapResult = await self._call(self.store.reap_expired)
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

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            await self.renew()
            if self._clock() >= self._next_reap:
                self._next_reap = self._clock() + self.ttl
                await self.reap()


__all__ = ["DbCall", "LeaseKeeper"]
