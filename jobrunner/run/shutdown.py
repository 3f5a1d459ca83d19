"""Stopping a run: graceful first, then hard; SIGINT/SIGTERM ask for it.

The first stop (a signal, or :meth:`Worker.request_stop`) lets the running sessions finish
within ``grace_seconds``. The second, the grace period running out, or an error that stops the
run (a wrong key, a wrong URL) cancels them at once; the worker then gives their jobs back
without spending an attempt (the writes are shielded). A signal also marks the run
``interrupted`` (exit 130).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
from collections.abc import Callable, Sized

import anyio
from anyio.abc import TaskStatus

from jobrunner.errors import JobrunnerError

logger = logging.getLogger(__name__)


def can_handle_signals() -> bool:
    """Signal handlers can only be installed from the main thread, and not on Windows."""
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


class Shutdown:
    """A run's stop state. ``cancel_all`` cancels every running session (called once the stop
    turns hard); ``error`` is the first error that stopped the run."""

    def __init__(
        self, grace_s: float, *, clock: Callable[[], float], cancel_all: Callable[[], None]
    ) -> None:
        self.grace_s = grace_s
        self.stopping = False
        self.hard = False
        self.interrupted = False
        self.error: JobrunnerError | None = None
        self._clock = clock
        self._cancel_all = cancel_all
        self._deadline = math.inf

    def request(self, *, error: JobrunnerError | None = None, hard: bool = False) -> None:
        """Stop; graceful unless ``hard``, repeated, or for an ``error`` that stops the run."""
        if error is not None and self.error is None:
            self.error = error
        if self.stopping or hard or error is not None:
            self._go_hard()
        else:
            self._deadline = self._clock() + self.grace_s
        self.stopping = True

    def _go_hard(self) -> None:
        self.hard = True
        self._cancel_all()

    async def finish(self, running: Sized, changed: Callable[[], anyio.Event]) -> None:
        """Wait until nothing runs; after a graceful stop, for at most the grace period.
        ``changed()`` is the event set at the next change (a session ended, a stop)."""
        while len(running):
            pulse = changed()
            if self.stopping and not self.hard:
                with anyio.move_on_after(max(0.0, self._deadline - self._clock())):
                    await pulse.wait()
                if self._clock() >= self._deadline and not self.hard:
                    logger.warning("grace period over: cancelling %d sessions", len(running))
                    self._go_hard()
            else:
                await pulse.wait()

    async def watch_signals(
        self, stop: Callable[[], None], *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Call ``stop`` on each SIGINT/SIGTERM (main thread only: see
        :func:`can_handle_signals`); runs until cancelled."""
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                self.interrupted = True
                first = not self.stopping
                logger.warning(
                    "%s: %s",
                    signal.Signals(signum).name,
                    "finishing running sessions (again to stop now)"
                    if first and self.grace_s > 0
                    else "stopping now; running jobs go back to the queue",
                )
                stop()


__all__ = ["Shutdown", "can_handle_signals"]
