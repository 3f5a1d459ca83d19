"""Store calls off the event loop: each in a worker thread, behind the run's own small limiter,
shielded from cancellation.

The store blocks (SQLite file locks, PostgreSQL round trips), so it never runs on the event
loop, where a hundred sessions and the lease renewals live. Its calls get their own thread
limiter, so sessions reading audio in threads never delay a renewal. A call is shielded: a
write the store has started is never abandoned half-known when its caller is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")

#: threads for store calls (SQLite serialises writers anyway; PostgreSQL gets some overlap)
STORE_THREADS = 4


class StoreCalls:
    """``await calls(store.verb, *args)``: the verb in a thread, typed as the verb is.
    Keyword arguments go through ``functools.partial``. Create inside the event loop."""

    def __init__(self, threads: int = STORE_THREADS) -> None:
        self._limiter = anyio.CapacityLimiter(threads)

    async def __call__(self, fn: Callable[[*PosArgsT], T], /, *args: *PosArgsT) -> T:
        with anyio.CancelScope(shield=True):
            result = await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        return result


__all__ = ["STORE_THREADS", "StoreCalls"]
