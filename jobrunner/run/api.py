"""The two entry points of a run: :func:`run_queue` (blocking) and :func:`arun_queue` (inside a
running event loop). See :mod:`jobrunner.run` for how a run goes; the speech map goes beside
the worker (:func:`jobrunner.run.prefetch.run_mapped`) unless ``speech_map=False``.
:func:`run_queue` spreads the sessions over worker processes when the ``processes`` setting
asks for it (:mod:`jobrunner.run.multi`); :func:`arun_queue` is always this process alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import anyio

from jobrunner.config import Settings
from jobrunner.run.loop import backend_options
from jobrunner.run.multi.plan import processes_for
from jobrunner.run.outcomes import JobOutcome, RunSummary
from jobrunner.run.prefetch import run_mapped
from jobrunner.run.worker import OnOutcome, OnProgress, RunOptions, Worker
from jobrunner.store import Store

#: a worker for this run, given the outcome callback it must call
MakeWorker = Callable[[OnOutcome | None], Worker]


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
    settings = settings_for(settings, options)

    def make(outcome: OnOutcome | None) -> Worker:
        return Worker(
            settings, store, options, on_outcome=outcome, on_progress=on_progress, clock=clock
        )

    label = options.label if options is not None else None
    return await run_worker(make, store, on_outcome, settings.concurrency, label, speech_map)


def settings_for(settings: Settings, options: RunOptions | None) -> Settings:
    """The settings a worker runs with: a run with a ``limit`` splits nothing, since its
    claims count jobs and pieces are not jobs."""
    if options is not None and options.limit is not None:
        return settings.replace(split=False)
    return settings


async def run_worker(
    make: MakeWorker,
    store: Store,
    on_outcome: OnOutcome | None,
    concurrency: int,
    label: str | None,
    speech_map: bool,
) -> RunSummary:
    """Run the worker ``make`` builds, with the speech map beside it unless ``speech_map`` is
    off (a worker process of ``run --processes`` runs its own worker through this too)."""
    if not speech_map:
        return await make(on_outcome).run()
    worker_ref: list[Worker] = []

    async def start(heard: Callable[[JobOutcome], None]) -> RunSummary:
        def outcome(done: JobOutcome) -> None:
            heard(done)
            if on_outcome is not None:
                on_outcome(done)

        worker = make(outcome)
        worker_ref.append(worker)
        return await worker.run()

    def held() -> set[int]:
        return {job_id for job_id, _ in worker_ref[0].running} if worker_ref else set()

    return await run_mapped(store, start, held, concurrency, label)


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
    outcome and ``on_progress`` on every change, both on the event loop (with several worker
    processes: on the calling thread): they must not block. Several processes
    (``settings.processes``) open the store again by ``settings.db_url``."""
    processes = processes_for(settings.processes, settings.concurrency)
    if processes > 1:
        from jobrunner.run.multi.parent import run_processes

        return run_processes(
            settings,
            store,
            processes,
            options=options or RunOptions(),
            on_outcome=on_outcome,
            on_progress=on_progress,
            clock=clock,
            speech_map=speech_map,
        )
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


__all__ = ["MakeWorker", "arun_queue", "run_queue", "run_worker"]
