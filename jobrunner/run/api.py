"""The two entry points of a run: :func:`run_queue` (blocking) and :func:`arun_queue` (inside a
running event loop). See :mod:`jobrunner.run` for how a run goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import anyio

from jobrunner.config import Settings
from jobrunner.run.outcomes import RunSummary
from jobrunner.run.worker import OnOutcome, OnProgress, RunOptions, Worker
from jobrunner.store import Store


async def arun_queue(
    settings: Settings,
    store: Store,
    *,
    options: RunOptions | None = None,
    on_outcome: OnOutcome | None = None,
    on_progress: OnProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Drain the queue (see :mod:`jobrunner.run`) inside a running event loop."""
    worker = Worker(
        settings, store, options, on_outcome=on_outcome, on_progress=on_progress, clock=clock
    )
    return await worker.run()


def run_queue(
    settings: Settings,
    store: Store,
    *,
    options: RunOptions | None = None,
    on_outcome: OnOutcome | None = None,
    on_progress: OnProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Drain the queue; blocks until the run ends. ``on_outcome`` is called once per attempt
    outcome and ``on_progress`` on every change, both on the event loop: they must not block.
    """
    return anyio.run(
        partial(
            arun_queue,
            settings,
            store,
            options=options,
            on_outcome=on_outcome,
            on_progress=on_progress,
            clock=clock,
        )
    )


__all__ = ["arun_queue", "run_queue"]
