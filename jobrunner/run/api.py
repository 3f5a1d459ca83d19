"""The two entry points of a run: :func:`run_queue` (blocking) and :func:`arun_queue` (inside a
running event loop). See :mod:`jobrunner.run` for how a run goes; the speech map goes beside
the worker (:func:`jobrunner.run.prefetch.run_mapped`) unless ``speech_map=False``."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import anyio

from jobrunner.config import Settings
from jobrunner.run.loop import backend_options
from jobrunner.run.outcomes import JobOutcome, RunSummary
from jobrunner.run.prefetch import run_mapped
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
    speech_map: bool = True,
) -> RunSummary:
    """Drain the queue (see :mod:`jobrunner.run`) inside a running event loop; ``speech_map``:
    map the files ahead of their sessions and align each completed transcript with its map."""
    if not speech_map:
        worker = Worker(
            settings, store, options, on_outcome=on_outcome, on_progress=on_progress, clock=clock
        )
        return await worker.run()
    worker_ref: list[Worker] = []

    async def start(heard: Callable[[JobOutcome], None]) -> RunSummary:
        def outcome(done: JobOutcome) -> None:
            heard(done)
            if on_outcome is not None:
                on_outcome(done)

        worker = Worker(
            settings, store, options, on_outcome=outcome, on_progress=on_progress, clock=clock
        )
        worker_ref.append(worker)
        return await worker.run()

    def held() -> set[int]:
        return {job_id for job_id, _ in worker_ref[0].running} if worker_ref else set()

    label = options.label if options is not None else None
    return await run_mapped(store, start, held, settings.concurrency, label)


def run_queue(
    settings: Settings,
    store: Store,
    *,
    options: RunOptions | None = None,
    on_outcome: OnOutcome | None = None,
    on_progress: OnProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
    speech_map: bool = True,
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
            speech_map=speech_map,
        ),
        backend_options=backend_options(settings.loop),
    )


__all__ = ["arun_queue", "run_queue"]
