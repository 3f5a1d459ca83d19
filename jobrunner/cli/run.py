"""``jobrunner run``: drain the queue (see :mod:`jobrunner.run`)."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.progress import choose_reporter
from jobrunner.cli.run_views import summary_json, summary_line
from jobrunner.config import ENDPOINTS, LOOPS
from jobrunner.errors import JobrunnerError
from jobrunner.run import RunOptions, run_queue

logger = logging.getLogger(__name__)


@click.command("run")
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    metavar="N",
    help="Most sessions at once (default from the profile: 4; plans allow 8/12/20/60).",
)
@click.option(
    "--processes",
    metavar="N|auto",
    help="Worker processes sharing the sessions, one event loop each (default from the "
    "profile: auto = one per core from 300 sessions, else one).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    metavar="N",
    help="Attempts per job in this run (lowers the budget set at enqueue).",
)
@click.option(
    "--pace", type=float, metavar="X", help="Realtime factor (default 1.0; above 1 for tests)."
)
@click.option("--base-url", metavar="URL", help="Service URL (e.g. http://127.0.0.1:8765).")
@click.option("--label", metavar="NAME", help="Only jobs with this label.")
@click.option(
    "--endpoint",
    type=click.Choice(ENDPOINTS),
    help="Endpoint for jobs enqueued before endpoints were recorded (a job runs through the "
    "endpoint it was enqueued with: see `enqueue --endpoint`).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Claim at most N jobs, then finish."
)
@click.option(
    "--grace-seconds",
    type=click.FloatRange(min=0),
    metavar="S",
    help="After Ctrl-C, how long running sessions may finish (default from the profile).",
)
@click.option("--retry-failed", is_flag=True, help="Queue failed jobs again first (fresh budget).")
@click.option(
    "--no-wait",
    is_flag=True,
    help="End when nothing is claimable now; do not wait for jobs other workers hold.",
)
@click.option(
    "--speech-map/--no-speech-map",
    default=True,
    show_default=True,
    help="Map files ahead of their sessions and align each transcript with its speech map "
    "(speech times, latencies, coverage).",
)
@click.option(
    "--split/--no-split",
    default=None,
    help="Cut a long job into pieces at silences when sessions would idle (default: on).",
)
@click.option(
    "--split-min",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Only jobs longer than S seconds are split (default 600).",
)
@click.option(
    "--channels",
    type=click.Choice(["downmix", "split", "auto"]),
    help="Multichannel files: one session over the downmix (default), one per channel "
    "(split), or split when the channels differ (auto), for the jobs enqueued with the default; "
    "a mode set by `enqueue --channels` is the job's.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run nothing: print what the queue's runnable jobs would take (as `jobrunner "
    "estimate` does; --json for one object) and exit.",
)
@click.option(
    "--loop",
    type=click.Choice(LOOPS),
    help="Event loop: uvloop when installed (auto, the default; pip install 'jobrunner[fast]'),"
    " or asyncio's own.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary line.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per job outcome on stdout (below)."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress on stderr (default: only when stderr is a terminal).",
)
@click.pass_obj
def run_command(
    app: AppContext,
    concurrency: int | None,
    processes: str | None,
    max_attempts: int | None,
    pace: float | None,
    base_url: str | None,
    label: str | None,
    endpoint: str | None,
    limit: int | None,
    grace_seconds: float | None,
    retry_failed: bool,
    no_wait: bool,
    speech_map: bool,
    split: bool | None,
    split_min: float | None,
    channels: str | None,
    dry_run: bool,
    loop: str | None,
    quiet: bool,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Transcribe the queued jobs through at most N realtime sessions at once.

    Jobs are claimed as sessions free up; each is streamed at realtime pace and its
    transcript, turns and attempt are stored in one transaction. Failures after streaming
    began are retried later with backoff (a new session from the start of the file); 4xx
    errors and undecodable audio fail the job at once; 429s lower the live concurrency. The
    run ends when nothing is left it could ever claim: jobs waiting for a retry backoff are
    waited for, and so are jobs running under other workers' leases (the progress says whose;
    a lease that expires is reaped and its job run). --no-wait ends instead, for scripts.

    A job longer than --split-min (600 s) claimed while sessions would otherwise idle (nothing
    else to claim) is cut into pieces at long silences of its speech map, about one per idle
    session and each at least half of --split-min long; the pieces run in parallel, and the
    job's transcript is stitched from theirs when the last one ends. --no-split turns it off.
    With --channels split each channel of a multichannel file is its own session (turns carry
    their channel). Jobs are claimed longest first within a priority.

    Meanwhile a background thread maps the speech in the files ahead of their sessions (once
    per content) and aligns each stored transcript with it: speech_start_s/speech_end_s and
    latencies per turn, a coverage verdict per job (see `jobrunner export --help`). It never
    delays a session; a drained run waits for the last alignments, a stopped one does not
    (`jobrunner analyze` fills them in). The summary gives p50/p90 of end_latency_s.

    The first 401/402/403 stops the run: the other jobs stay queued (exit 3). Ctrl-C or
    SIGTERM stops claiming and lets running sessions finish for --grace-seconds; a second
    Ctrl-C stops them at once and puts their jobs back in the queue without costing an
    attempt (exit 130). After a crash or kill -9, run again: on the same machine the dead
    process's leases are reaped at once, other hosts' once they expire, and their jobs run
    again (that attempt counts).

    With --processes N (auto: one per core once -c reaches 300) the sessions are split over
    N worker processes, one event loop each, under one limit, one display and one summary.
    Signals reach every process as above; a worker process killed with -9 loses only its
    leases (the others reap them and run the jobs; the run ends with exit 130), and workers
    whose parent dies stop as on SIGTERM.

    \b
    Examples:
      jobrunner run -c 8
      jobrunner run -c 1000 --processes auto
      jobrunner run --label calls --limit 100
      jobrunner run --retry-failed
      jobrunner run --no-wait      # in a script: leave other workers' jobs to them
      jobrunner run -c 8 --dry-run # hours, pieces, makespan and cost; nothing is spent
      jobrunner --profile local run --pace 1 --json | jq -r 'select(.outcome=="failed").path'

    \b
    Exit codes: 0 every job handled succeeded, 1 some failed or were invalid,
    2 usage/configuration/database, 3 authentication or credits (401/402/403),
    130 interrupted.

    \b
    --json prints one object per attempt outcome: {"schema": "jobrunner.run/1", job_id,
      path, label, outcome: succeeded|retry|failed|invalid|released|cancelled|lost|split,
      attempt, duration_s, audio_s (sent), wall_s, turns, transcript (on success),
      error_kind, reason, run_after (retry), request_id}, then one
      {"schema": "jobrunner.run-summary/1", claimed, succeeded, failed, invalid, retries,
      released, cancelled, elapsed_s, audio_s, concurrency, lowest_concurrency,
      rate_limited, interrupted, stop_error, exit_code, turns_ended_by_close, aligned,
      uncovered, end_latency: {turns, p50_s, p90_s}} as the last line.
    """
    settings = app.settings(
        concurrency=concurrency,
        processes=processes,
        pace=pace,
        base_url=base_url,
        grace_seconds=grace_seconds,
        split=split,
        split_min_s=split_min,
        channels=channels,
        loop=loop,
        endpoint=endpoint,
    )
    if dry_run:
        from jobrunner.cli.estimate import queue_report  # maps files: the audio stack

        with open_queue(settings.db_url) as store:
            queue_report(store, settings, label=label, as_json=as_json)
        return
    options = RunOptions(
        label=label,
        limit=limit,
        max_attempts=max_attempts,
        retry_failed=retry_failed,
        no_wait=no_wait,
        handle_signals=True,
    )
    reporter = choose_reporter(quiet=quiet, as_json=as_json, progress=progress)
    before = set(threading.enumerate())
    with open_queue(settings.db_url) as store, reporter:
        summary = run_queue(
            settings,
            store,
            options=options,
            on_outcome=reporter.on_outcome,
            on_progress=reporter.on_progress,
            speech_map=speech_map,
        )
    if as_json:
        click.echo(json.dumps(summary_json(summary), ensure_ascii=False))
    if not quiet:
        if summary.counts.requeued_failed:
            click.echo(f"run: {summary.counts.requeued_failed} failed jobs queued again", err=True)
        click.echo(summary_line(summary), err=True)
        if summary.others_running:
            click.echo(
                f"run: {summary.others_running} jobs are running under other workers' leases; "
                "if that worker died, run again once its leases have expired",
                err=True,
            )
    _exit_past_hung_reads(before, summary.exit_code, summary.stop_error)
    if summary.stop_error is not None:
        raise summary.stop_error
    click.get_current_context().exit(summary.exit_code)


#: how long the end of a run waits for its worker threads to wind down
THREADS_GRACE_S = 2.0


def _exit_past_hung_reads(
    before: set[threading.Thread], code: int, error: JobrunnerError | None
) -> None:
    """Exit now if a thread the run started is still stuck in a file read the watchdog
    abandoned (a hard-mounted share that stopped answering): threads cannot be cancelled, and
    waiting for them at interpreter exit would hang a run whose work is all recorded. Threads
    that were there ``before`` the run (an embedding program's) are not the run's to judge."""
    deadline = time.monotonic() + THREADS_GRACE_S
    ours = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for thread in ours:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in ours if t.is_alive()]
    if stuck:
        logger.warning(
            "%d worker threads are stuck in file reads; exiting without them", len(stuck)
        )
        if error is not None:  # said here: the CLI's error handler will not run
            click.echo(f"jobrunner: error: {error}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
