"""``jobrunner run --processes N``: one run over several worker processes, one event loop each.

One Python event loop streams up to a few hundred sessions on time; past that its own work
(websocket frames, timers) delays the chunks (BENCHMARKS.md, pacing). So a run with enough
sessions splits them over worker processes, one per core, which claim from the store as
separate ``jobrunner run`` processes on one queue already do (each has its own lease owner).
One parent keeps what a user sees of "one run":

* **Start-up.** Each child is ``python -m jobrunner.run.multi.child`` with a private control
  channel (a socket pair, pickled messages: :mod:`~jobrunner.run.multi.channel`). It imports
  the run, the client and the store, never the CLI, click, rich or the server (a
  ``multiprocessing`` spawn would re-import the parent's ``__main__``: the whole CLI). The
  settings, API key included, reach it over that channel, never in argv or the environment.
* **Sessions.** ``--concurrency`` is split as evenly as possible (:func:`plan.split`), never more
  processes than sessions. The adaptive 429 limit stays one limit: the parent owns the
  :class:`~jobrunner.run.concurrency.AdaptiveLimit`; children report handshakes and 429s and
  borrow every session slot from it (:mod:`~jobrunner.run.multi.permits`), so at most
  ``limit`` sessions run over all processes, one probe session first.
* **One display, summary, exit code.** Children send their progress snapshots and outcomes;
  the parent merges them (:mod:`~jobrunner.run.multi.merge`) and calls the run's callbacks. A
  stop error in one child (a refused key: exit 3) stops all of them.
* **Signals.** Children live in their own session, so a terminal's Ctrl-C reaches the parent
  only, which forwards each SIGINT/SIGTERM: every child does what a single-process run does
  (grace, then a second signal gives the jobs back). A child killed with -9 loses only its
  leases; its siblings reap them at once (same machine, :mod:`jobrunner.owner`) and run the
  jobs, and the parent reports it and ends "interrupted" (exit 130). A parent killed with -9
  closes the channel; each child then stops as on SIGTERM.

``auto`` (the default) is one process below :data:`plan.AUTO_MIN_SESSIONS`, which is exactly
the single-process run; above, one per core.
"""

from __future__ import annotations

from jobrunner.run.multi.plan import AUTO_MIN_SESSIONS, processes_for, split

__all__ = ["AUTO_MIN_SESSIONS", "processes_for", "split"]
