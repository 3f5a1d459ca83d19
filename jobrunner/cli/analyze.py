"""``jobrunner analyze``: speech maps for queued and finished jobs, on demand, and the speech
times, latencies and coverage of jobs already succeeded (see :mod:`jobrunner.run.analysis`).

The progress display is shared with ``enqueue --analyze``: files and audio hours mapped
against the total, and an ETA from the rate so far, on stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.options import job_filters, progress_option
from jobrunner.cli.selection import selector
from jobrunner.cli.views import cell, latency_json
from jobrunner.errors import UsageError
from jobrunner.formatting import format_duration
from jobrunner.run import AnalyzeProgress, AnalyzeSummary, analyze
from jobrunner.store import Selector, Store
from jobrunner.timing import Latencies


class MapProgress:
    """A live bar on stderr while files are mapped (a context manager); thread-safe."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("maps "),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[detail]}"),
            console=console or Console(stderr=True),
            refresh_per_second=4,
        )
        self.task = self.progress.add_task("maps", total=None, detail="")

    def __enter__(self) -> MapProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, p: AnalyzeProgress) -> None:
        eta = "-" if p.eta_s is None else format_duration(p.eta_s)
        detail = (
            f"{p.files_done}/{p.files_total} files  "
            f"{p.audio_done_s / 3600:.2f}/{p.audio_total_s / 3600:.2f} h  ETA {eta}"
        )
        self.progress.update(
            self.task,
            completed=p.audio_done_s,
            total=max(1e-9, p.audio_total_s),
            detail=detail,
        )


def run_analysis(
    store: Store, chosen: Selector, *, progress: bool | None
) -> tuple[AnalyzeSummary, list[str]]:
    """Analyze ``chosen`` with a live bar when asked (or stderr is a terminal); returns the
    summary and the lines to print about it."""
    show = progress or (progress is None and sys.stderr.isatty())
    if show:
        with MapProgress(Console(stderr=True, force_terminal=bool(progress) or None)) as bar:
            summary = analyze(store, chosen, on_progress=bar)
    else:
        summary = analyze(store, chosen)
    return summary, summary_lines(summary)


def summary_lines(summary: AnalyzeSummary) -> list[str]:
    lines = [f"not mapped  {cell(path)}: {cell(reason)}" for path, reason in summary.unreadable]
    mapped = (
        f"{summary.mapped} maps computed ({format_duration(summary.audio_s)} of audio in "
        f"{summary.elapsed_s:.1f} s), {summary.reused} jobs reused a stored map"
    )
    if summary.unreadable:
        mapped += f", {len(summary.unreadable)} files not mapped"
    aligned = f"{summary.aligned} succeeded jobs aligned ({summary.uncovered} uncovered)"
    latency = Latencies.of(summary.end_latencies)
    if latency.turns:
        aligned += f"; end_latency_s {latency.describe()}"
    lines.append(f"analyze: {summary.jobs} jobs; {mapped}; {aligned}")
    return lines


def summary_json(summary: AnalyzeSummary) -> dict[str, Any]:
    return {
        "schema": "jobrunner.analyze/1",
        "jobs": summary.jobs,
        "mapped": summary.mapped,
        "reused": summary.reused,
        "not_mapped": [{"path": p, "reason": r} for p, r in summary.unreadable],
        "aligned": summary.aligned,
        "uncovered": summary.uncovered,
        "audio_s": round(summary.audio_s, 3),
        "elapsed_s": round(summary.elapsed_s, 3),
        "end_latency": latency_json(Latencies.of(summary.end_latencies)),
    }


@click.command("analyze")
@click.argument("jobs", nargs=-1, metavar="[JOB_ID|PATH]...")
@click.option("--all", "every", is_flag=True, help="Every job with readable content.")
@job_filters(states=False)
@progress_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema below).")
@click.pass_obj
def analyze_command(
    app: AppContext,
    jobs: tuple[str, ...],
    every: bool,
    label: str | None,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Compute speech maps for jobs and align their transcripts with them.

    Each content's map (where the speech is, from the voice activity detector) is computed
    once and stored, so jobs of the same audio share it and `jobrunner run` finds it ready.
    Jobs that already succeeded get their per-turn speech_start_s, speech_end_s and
    latencies and their coverage verdict (recomputed from the stored map). A file that
    cannot be read (moved, changed since it was enqueued) is reported and skipped; its jobs
    are unchanged. `jobrunner run` maps and aligns by itself; this command fills in jobs
    from before, from a run that was stopped, or ahead of a run.

    \b
    Examples:
      jobrunner analyze --all
      jobrunner analyze 12 ~/calls/a.wav
      jobrunner analyze --all --label calls --json | jq .uncovered

    \b
    --json prints {"schema": "jobrunner.analyze/1", jobs, mapped, reused,
      not_mapped: [{path, reason}], aligned, uncovered, audio_s, elapsed_s,
      end_latency: {turns, p50_s, p90_s}}.
    """
    if not jobs and not every:
        raise UsageError("analyze which jobs? give JOB_ID|PATH... or --all")
    if jobs and every:
        raise UsageError("give JOB_ID|PATH... or --all, not both")
    chosen = selector(jobs, label=label, states=None)
    with open_queue(app.settings().db_url) as store:
        summary, lines = run_analysis(store, chosen, progress=progress)
    if as_json:
        click.echo(json.dumps(summary_json(summary), ensure_ascii=False))
        return
    for line in lines:
        click.echo(line)
