"""How ``jobrunner run`` shows itself: a live rich display on stderr, JSON lines on stdout, or
one line per failure.

* :class:`LiveProgress` (a TTY, or ``--progress``): files done/total, audio hours done/total,
  ETA, live sessions against the live limit and the ceiling, retries and failures, and the
  jobs it waits for with their countdown; failures and waits are printed above the bars as
  they happen. Totals include jobs queued by others meanwhile.
* :class:`JsonLines` (``--json``): one ``jobrunner.run/1`` object per attempt outcome on
  stdout (:func:`~jobrunner.cli.run_views.outcome_json`), flushed at once, for scripts (``jq``).
* :class:`PlainLines` (no TTY): one stderr line per job that failed or was invalid, and one
  when the run starts waiting for jobs other workers hold, or for other workers than before.

A run with nothing to claim but jobs running under other workers' leases waits for them
(:func:`wait_text`: "waiting for 3 jobs leased by host-b:1234 (expire in 41 s)"): a live
worker keeps renewing its leases, a dead one's expire and the run reaps them. The line is
printed when the wait starts and when the workers it waits for change, not at every renewal.

ETA: the remaining audio (queued, plus what running sessions still have to send) over the
audio the run gets through per second: ``pace`` x realtime per session, as many sessions as the
live limit allows and jobs remain. Connect and drain time are not in it, so it is a lower bound
for short files. The API key never appears here: nothing printed carries settings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import click

from jobrunner.cli.run_views import failure_line, outcome_json
from jobrunner.formatting import format_duration
from jobrunner.run import JobOutcome, LeaseWait, RunSnapshot

if TYPE_CHECKING:  # rich is imported only for a live display (a TTY, or --progress)
    from rich.console import Console
    from rich.progress import TaskID


def wait_text(waiting: Sequence[LeaseWait]) -> str:
    """Whose leases the run waits for and when the first of each holder's expires."""

    def one(wait: LeaseWait) -> str:
        jobs = "1 job" if wait.jobs == 1 else f"{wait.jobs} jobs"
        verb = "expires" if wait.jobs == 1 else "expire"
        left = f"{verb} in {round(wait.expires_in_s)} s" if wait.expires_in_s > 0 else "expired"
        return f"{jobs} leased by {wait.holder} ({left})"

    return "waiting for " + ", ".join(one(wait) for wait in waiting)


class Reporter(Protocol):
    def on_outcome(self, outcome: JobOutcome) -> None: ...

    def on_progress(self, snapshot: RunSnapshot) -> None: ...

    def __enter__(self) -> Reporter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class WaitNews:
    """Whether a snapshot's wait is news: it starts, or other workers than before hold it."""

    def __init__(self) -> None:
        self._holders: list[str] = []

    def __call__(self, snapshot: RunSnapshot) -> bool:
        holders, self._holders = self._holders, [wait.holder for wait in snapshot.waiting]
        return bool(self._holders) and self._holders != holders


class _Quiet:
    def on_outcome(self, outcome: JobOutcome) -> None:
        pass

    def on_progress(self, snapshot: RunSnapshot) -> None:
        pass

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class PlainLines(_Quiet):
    def __init__(self) -> None:
        self._news = WaitNews()

    def on_outcome(self, outcome: JobOutcome) -> None:
        if outcome.outcome in ("failed", "invalid"):
            click.echo(failure_line(outcome), err=True)

    def on_progress(self, snapshot: RunSnapshot) -> None:
        if self._news(snapshot):
            click.echo(f"run: {wait_text(snapshot.waiting)}", err=True)


class JsonLines(_Quiet):
    def on_outcome(self, outcome: JobOutcome) -> None:
        sys.stdout.write(json.dumps(outcome_json(outcome), ensure_ascii=False) + "\n")
        sys.stdout.flush()


class LiveProgress(_Quiet):
    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description:<5}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[count]:>17}"),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            refresh_per_second=4,
        )
        self.files: TaskID = self.progress.add_task("files", total=None, count="", detail="")
        self.audio: TaskID = self.progress.add_task("audio", total=None, count="", detail="")
        self._news = WaitNews()

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_outcome(self, outcome: JobOutcome) -> None:
        if outcome.outcome in ("failed", "invalid"):
            self.progress.console.print(failure_line(outcome), markup=False, highlight=False)

    def on_progress(self, s: RunSnapshot) -> None:
        counts = s.counts
        live = f"live {s.running}/{s.limit}"
        if s.limit < s.ceiling:
            live += f" (max {s.ceiling})"
        failed = counts.failed + counts.invalid
        detail = f"{live} · {counts.retries} retries · {failed} failed"
        if s.stopping:
            detail += " · stopping"
        elif s.waiting:
            jobs, first = sum(w.jobs for w in s.waiting), min(w.expires_in_s for w in s.waiting)
            left = f"first lease expires in {round(first)} s" if first > 0 else "reaping"
            detail += f" · waiting for {jobs} leased jobs ({left})"
        if self._news(s):
            self.progress.console.print(f"run: {wait_text(s.waiting)}", markup=False)
        self.progress.update(
            self.files,
            completed=counts.jobs_done,
            total=max(1, s.jobs_total),
            count=f"{counts.jobs_done}/{s.jobs_total}",
            detail=detail,
        )
        done_h, total_h = counts.done_audio_s / 3600, s.audio_total_s / 3600
        self.progress.update(
            self.audio,
            completed=counts.done_audio_s,
            total=max(1e-9, s.audio_total_s),
            count=f"{done_h:.2f}/{total_h:.2f} h",
            detail=f"ETA {format_duration(s.eta_s)}",
        )


def choose_reporter(*, quiet: bool, as_json: bool, progress: bool | None) -> Reporter:
    """``--json`` wins stdout; the live display goes to stderr when stderr is a TTY (or
    ``--progress``), never with ``--quiet`` or, unless forced, with ``--json``."""
    if as_json:
        if progress:
            return _JsonAndLive(_console(force_terminal=True))
        return JsonLines()
    if quiet:
        return _Quiet()
    if progress or (progress is None and sys.stderr.isatty()):
        return LiveProgress(_console(force_terminal=bool(progress) or None))
    return PlainLines()


def _console(*, force_terminal: bool | None) -> Console:
    from rich.console import Console

    return Console(stderr=True, force_terminal=force_terminal)


class _JsonAndLive(LiveProgress):
    def on_outcome(self, outcome: JobOutcome) -> None:
        JsonLines().on_outcome(outcome)
        super().on_outcome(outcome)


__all__ = ["JsonLines", "LiveProgress", "PlainLines", "Reporter", "choose_reporter", "wait_text"]
