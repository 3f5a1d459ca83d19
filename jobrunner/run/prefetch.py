"""The speech map inside a run: files mapped ahead of the claims, transcripts aligned as their
jobs complete.

Mapping never runs on the event loop and never holds up a session: it runs in one background
thread of its own (a limiter of one, apart from the store calls' threads, so a lease renewal
never waits behind a file being mapped), and nothing a session does waits for it. One item at
a time, in this order:

1. a job this run completed: its transcript is aligned with its content's map, and the map is
   computed first when the prefetch did not get to it (a job claimed the moment it was queued);
2. a job this worker is streaming whose content has no map yet;
3. the next ``ahead`` queued jobs in claim order whose content has no map yet.

So a job completes as soon as its session ends, without speech fields, and is aligned right
after, by this thread; with the prefetch ahead that is one database read and write later.
When the queue is drained the run waits for the alignments still pending (not for more
prefetching) before it reports; a run that was stopped (Ctrl-C, an error that stops it) does
not wait, and ``jobrunner analyze`` fills those jobs in later. A file that cannot be mapped
(moved, changed, unreadable) is logged and skipped for the rest of the run; a store error is
logged and the work tried again later. Nothing here ever fails a job or the run.

:func:`run_mapped` runs a :class:`~jobrunner.run.worker.Worker` with it, from the outside: it
hears of completed jobs through the worker's outcome callback, reads the jobs the worker
holds, and adds what alignment found to the run's summary; the claim loop knows nothing of it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

from jobrunner.errors import AudioError, StoreError
from jobrunner.run.analysis import Aligned, MapKey, Stopped, align_job, map_key, map_target
from jobrunner.run.outcomes import JobOutcome, RunSummary, SpeechResults
from jobrunner.store import MapTarget, Selector, Store
from jobrunner.timing.latency import Latencies

logger = logging.getLogger(__name__)

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")

#: longest wait between looks at the queue while there is nothing to map
IDLE_POLL_S: Final = 5.0


class SpeechPrefetch:
    """Maps and aligns for one run; :meth:`run` loops until cancelled or :meth:`finish`-ed.

    ``held`` names the jobs the worker is streaming; ``ahead`` is how many queued jobs (of
    ``label``) to map ahead of the claims. :meth:`results` says what alignment found so far.
    Create inside the event loop.
    """

    def __init__(
        self,
        store: Store,
        held: Callable[[], Iterable[int]],
        ahead: int,
        label: str | None = None,
        *,
        idle_poll_s: float = IDLE_POLL_S,
    ) -> None:
        self.store = store
        self.ahead = ahead
        self.label = label
        self.idle_poll_s = idle_poll_s
        self._held = held
        self._end_latencies: list[float] = []
        self._aligned = self._uncovered = 0
        self._pending: deque[int] = deque()
        self._failed: set[MapKey] = set()
        self._limiter = anyio.CapacityLimiter(1)
        self._wake = anyio.Event()
        self._done = anyio.Event()
        self._finishing = False
        self._cancelled = threading.Event()  # the run is over: stop any mapping at once
        self._no_prefetch = threading.Event()  # finishing: stop a prefetch, finish alignments

    def results(self) -> SpeechResults:
        return SpeechResults(Latencies.of(self._end_latencies), self._aligned, self._uncovered)

    def completed(self, job_id: int) -> None:
        """A job's transcript was stored: align it."""
        self._pending.append(job_id)
        self.poke()

    def poke(self) -> None:
        """Something changed (a claim, a completion): look for work now."""
        self._wake.set()

    async def finish(self) -> None:
        """Align every job completed so far, then stop (no more prefetching)."""
        self._finishing = True
        self._no_prefetch.set()
        self.poke()
        await self._done.wait()

    async def run(self) -> None:
        try:
            while True:
                if self._pending:
                    await self._align(self._pending.popleft())
                elif self._finishing:
                    return
                elif not await self._prefetch():
                    with anyio.move_on_after(self.idle_poll_s):
                        await self._wake.wait()
                    self._wake = anyio.Event()
        finally:
            self._done.set()

    async def _thread(self, fn: Callable[[*PosArgsT], T], /, *args: *PosArgsT) -> T:
        try:
            return await anyio.to_thread.run_sync(
                fn, *args, limiter=self._limiter, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            self._cancelled.set()  # the abandoned thread stops at its next block of audio
            self._no_prefetch.set()
            raise

    async def _align(self, job_id: int) -> None:
        try:
            aligned = await self._thread(self._align_blocking, job_id)
        except Stopped:
            return
        except AudioError as exc:
            logger.info("job %d: no speech map (%s); speech fields stay empty", job_id, exc)
            return
        except StoreError as exc:
            logger.warning("job %d: speech alignment not stored: %s", job_id, exc)
            return
        except Exception:  # never fail the run over speech fields
            logger.exception("job %d: speech alignment failed", job_id)
            return
        if aligned is not None:
            self._end_latencies.extend(aligned.end_latencies)
            self._aligned += 1
            self._uncovered += aligned.coverage.flagged

    def _align_blocking(self, job_id: int) -> Aligned | None:
        return align_job(self.store, job_id, stop=self._cancelled)

    async def _prefetch(self) -> bool:
        """Map one file ahead of its session; False when there is nothing to map."""
        target: MapTarget | None = None
        try:
            target = await self._thread(self._next_target)
            if target is None:
                return False
            await self._thread(self._map_blocking, target)
        except Stopped:
            return True
        except AudioError as exc:
            logger.info("not mapped ahead: %s", exc)
            if target is not None:
                self._failed.add(map_key(target))
            return True
        except StoreError as exc:
            logger.warning("speech map prefetch: %s", exc)
            return False
        except Exception:
            logger.exception("speech map prefetch failed")
            return False
        return True

    def _map_blocking(self, target: MapTarget) -> None:
        map_target(self.store, target, stop=self._no_prefetch)

    def _next_target(self) -> MapTarget | None:
        """The first held, then queued (claim order), job whose content has no map."""
        if self._no_prefetch.is_set():
            return None
        held = tuple(sorted(self._held()))
        candidates = self.store.speech.targets(Selector(ids=held), limit=len(held)) if held else []
        candidates += self.store.speech.next_queued(self.ahead, self.label)
        if not candidates:
            return None
        from jobrunner.audio.vad import detector_id  # numpy: only once there is work

        stored = self.store.speech.keys({t.sha256 for t in candidates}, detector_id())
        for target in candidates:
            key = map_key(target)
            if key not in stored and key not in self._failed:
                return target
        return None


async def run_mapped(
    store: Store,
    start: Callable[[Callable[[JobOutcome], None]], Awaitable[RunSummary]],
    held: Callable[[], Iterable[int]],
    ahead: int,
    label: str | None = None,
) -> RunSummary:
    """Run the worker that ``start(on_outcome)`` runs, with a :class:`SpeechPrefetch` beside it:
    ``held`` names the jobs it streams, ``ahead`` how many queued jobs (of ``label``) to map
    ahead of its claims. A run that ended by itself waits for the last alignments."""
    speech = SpeechPrefetch(store, held, ahead, label)

    def outcome(done: JobOutcome) -> None:
        if done.finished_job is not None:
            speech.completed(done.finished_job)

    async with anyio.create_task_group() as tg:
        tg.start_soon(speech.run)
        summary = await start(outcome)
        if not summary.interrupted and summary.stop_error is None:
            await speech.finish()
        tg.cancel_scope.cancel()
    return dataclasses.replace(summary, speech=speech.results())


__all__ = ["IDLE_POLL_S", "SpeechPrefetch", "run_mapped"]
