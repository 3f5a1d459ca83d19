"""Running the queue: drain it through N concurrent realtime sessions, exactly once.

Library API (the CLI and the demo call it; the modules below are internal)::

    summary = run_queue(settings, store, options=RunOptions(label="calls"),
                        on_outcome=print_line, on_progress=show)       # -> RunSummary
    summary = await arun_queue(...)                                    # inside an event loop

How a run goes:

* **Claim as slots free up.** Sessions borrow a slot from an ``anyio.CapacityLimiter`` whose
  size follows :class:`~jobrunner.run.concurrency.AdaptiveLimit` (one probe session first, then
  ``--concurrency``; halved by 429s, grown back additively, never above the ceiling). When a
  slot frees, as many jobs are claimed in one store call as there are free slots.
* **One attempt = one session.** ``transcribe_file`` streams the file (connect-phase failures
  are retried in place by the transport). The attempt ends with exactly one store verb, one
  transaction: ``complete`` (transcript + turns + attempt + status), ``retry_later`` with the
  backoff of :mod:`jobrunner.retry`, ``fail`` (permanent error, budget used up, ``invalid``
  audio) or ``release`` (shutdown). Success needs a drained session *and* the file's whole
  duration sent (:func:`~jobrunner.run.records.check_complete`). Before any session the file
  is checked: missing or unreadable is a retryable failure, changed since enqueue a permanent
  one (:mod:`jobrunner.client.source`). A final write the store refuses for another reason
  than a lost lease is recorded as the attempt's failure (kind ``store``), never left stuck.
* **Leases** are renewed for all running jobs at once every TTL/3 and dead workers' leases
  reaped (:mod:`jobrunner.run.leases`); a job that drops out of the renewal (``jobrunner cancel``)
  has its session cancelled and nothing is written for it. All DB and file work runs in threads,
  the store calls behind their own small limiter, so 100+ sessions never starve a renewal. A
  session past its watchdog deadline (a read that hangs) is abandoned, recorded as ``stalled``
  and no longer renewed (:mod:`jobrunner.run.watchdog`).
* **Stop.** The first 401/402/403 (or a configuration error, or a service that never answered
  a single handshake in this run: wrong URL, no network) stops claiming, releases this
  worker's running jobs and ends the run (exit 3 / 2): it is the key, not the files. So does a
  machine that cannot see the files (9 of the last 10 missing, :mod:`jobrunner.run.sight`). A
  first SIGINT/SIGTERM (or :meth:`~jobrunner.run.worker.Worker.request_stop`) stops claiming and
  lets sessions finish within ``grace_seconds``; the second, or the grace running out, cancels
  them and releases their jobs without costing an attempt (shielded writes). kill -9 loses
  nothing either: the next run on this machine reaps the dead process's leases at once, any
  other worker once they expire (that attempt counts).
* **Speech map.** A background thread of its own maps the files ahead of their sessions and
  aligns each stored transcript with its map (:mod:`jobrunner.run.prefetch`): true turn times,
  latencies and the coverage verdict, never delaying a session.
* **Done** when nothing is left that this worker could ever claim: nothing queued (jobs waiting
  for a backoff count: the run waits for them), nothing running here, and no job running under
  another worker's lease (the run waits for those too, showing whose they are, and reaps each
  lease that expires; ``--no-wait`` ends instead). After a crash on this machine, the dead
  process's leases are reaped at once (:mod:`jobrunner.owner` tells it is gone).

Modules: ``worker`` (the claim loop), ``attempt`` (one job: context in, outcome out),
``recorder`` (an attempt's end in the store, and what to do when the store refuses it),
``records`` (an attempt's facts as store records), ``watchdog`` (how long a session may take),
``sight`` (when a worker that cannot see the files stops), ``leases`` (renew, reap),
``concurrency`` (the live limit), ``shutdown`` (signals, grace), ``offload`` (store calls in
threads), ``outcomes`` (what a run reports), ``analysis`` (speech maps computed and applied) and
``prefetch`` (the speech map inside a run); ``api`` holds the two entry points.
"""

from __future__ import annotations

from jobrunner.run.analysis import AnalyzeProgress, AnalyzeSummary, analyze
from jobrunner.run.api import arun_queue, run_queue
from jobrunner.run.outcomes import (
    Counts,
    JobOutcome,
    LeaseWait,
    Outcome,
    RunSnapshot,
    RunSummary,
    SpeechResults,
)
from jobrunner.run.worker import OnOutcome, OnProgress, RunOptions

__all__ = [
    "AnalyzeProgress",
    "AnalyzeSummary",
    "Counts",
    "JobOutcome",
    "LeaseWait",
    "OnOutcome",
    "OnProgress",
    "Outcome",
    "RunOptions",
    "RunSnapshot",
    "RunSummary",
    "SpeechResults",
    "analyze",
    "arun_queue",
    "run_queue",
]
