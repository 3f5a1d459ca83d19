"""Run one awaitable until it ends or a ``cancel_event`` is set, whichever comes first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def until_cancelled(
    cancel_event: anyio.Event | None, work: Callable[[], Awaitable[T]]
) -> T | None:
    """``work()``'s result, or None when ``cancel_event`` was set first (``work`` is cancelled).
    Its exception is raised after the task group has ended, so never inside an ExceptionGroup."""
    result: T | None = None
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        if cancel_event is not None:

            async def watch() -> None:
                await cancel_event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
        try:
            result = await work()
        except Exception as exc:
            failure = exc
        finally:
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


__all__ = ["until_cancelled"]
