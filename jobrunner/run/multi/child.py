"""A worker process of ``run --processes``: ``python -m jobrunner.run.multi.child FD``.

It reads its :class:`~jobrunner.run.multi.channel.Start` from the socket ``FD``, runs one worker
over its share of the sessions (slots borrowed from the parent:
:class:`~jobrunner.run.multi.permits.SharedLimit`), and reports progress, outcomes and its part
of the summary. SIGINT/SIGTERM (the parent forwards them) stop it as they stop a single run.
The channel closing (the parent is gone, even killed with -9) stops it as SIGTERM does, so no
child streams on for a parent that no longer exists.
"""

from __future__ import annotations

import logging
import os
import sys
from multiprocessing.connection import Connection

import anyio

from jobrunner.errors import JobrunnerError
from jobrunner.run.api import run_worker, settings_for
from jobrunner.run.multi.channel import (
    Channel,
    Failed,
    Finished,
    Grant,
    Outcome,
    Progress,
    Start,
    Stop,
    pack_error,
    unpack_error,
)
from jobrunner.run.multi.permits import SharedLimit
from jobrunner.run.outcomes import JobOutcome, RunSnapshot, RunSummary
from jobrunner.run.worker import OnOutcome, Worker
from jobrunner.store import Store

logger = logging.getLogger(__name__)


class ChildRun:
    """One worker process's run, wired to its channel."""

    def __init__(self, channel: Channel, start: Start, store: Store) -> None:
        self.channel = channel
        self.start = start
        self.store = store
        self.worker: Worker | None = None
        self.limit = SharedLimit(start.settings.concurrency, channel.send)
        self._error_sent = False

    def make(self, on_outcome: OnOutcome | None) -> Worker:
        def outcome(done: JobOutcome) -> None:
            self.channel.send(Outcome(done))
            if on_outcome is not None:
                on_outcome(done)

        start = self.start
        settings = settings_for(start.settings, start.options)
        worker = Worker(
            settings, self.store, start.options, on_outcome=outcome, on_progress=self.progress
        )
        worker.limit = self.limit
        self.worker = worker
        return worker

    def progress(self, snapshot: RunSnapshot) -> None:
        self.channel.send(Progress(snapshot))
        error = self.worker.shutdown.error if self.worker is not None else None
        if error is not None and not self._error_sent:
            self._error_sent = True
            self.channel.send(Failed(pack_error(error)))

    async def listen(self) -> None:
        """Grants and stops from the parent; the channel closing stops the run gracefully."""
        conn = self.channel.conn
        while True:
            await anyio.wait_readable(conn.fileno())
            try:
                message = conn.recv()
            except (EOFError, OSError):
                self.channel.closed = True
                logger.warning("the parent process is gone: finishing running sessions")
                if self.worker is not None and not self.worker.stopping:
                    self.worker.request_stop()
                return
            if isinstance(message, Grant) and self.limit.slots is not None:
                self.limit.slots.granted(message.slots)
            elif isinstance(message, Stop) and self.worker is not None:
                self.worker.request_stop(error=unpack_error(message.error))

    async def run(self) -> RunSummary:
        start = self.start
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.listen)
            summary = await run_worker(
                self.make,
                self.store,
                None,
                start.settings.concurrency,
                start.options.label,
                start.speech_map,
            )
            tg.cancel_scope.cancel()
        return summary


def main(argv: list[str]) -> int:
    channel = Channel(Connection(int(argv[0])))
    start: Start = channel.conn.recv()
    logging.basicConfig(
        level=start.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    error: JobrunnerError | None = None
    try:
        with Store.open(start.settings.db_url, migrate_schema=False) as store:
            summary = anyio.run(ChildRun(channel, start, store).run)
    except JobrunnerError as exc:  # the store cannot be opened: the parent says it once
        error = exc
        channel.send(Failed(pack_error(exc)))
    else:
        error = summary.stop_error
        channel.send(
            Finished(
                summary.counts,
                summary.interrupted,
                None if error is None else pack_error(error),
                summary.speech,
            )
        )
    sys.stderr.flush()
    # a file read the watchdog abandoned may still hold a thread: do not wait for it
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
