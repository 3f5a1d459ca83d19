"""``jobrunner jobs``: one line (or one JSON object) per job."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.options import job_filters
from jobrunner.cli.views import cell, job_json
from jobrunner.formatting import format_duration
from jobrunner.store import JobView, Store
from jobrunner.timing import Latencies

PAGE = 1000
TEXT_LIMIT = 100


@click.command("jobs")
@job_filters()
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help=f"At most N jobs, 0 = all (default: {TEXT_LIMIT} as text, all with --json).",
)
@click.option(
    "--uncovered",
    is_flag=True,
    help="Only jobs whose coverage check found speech outside every turn.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per job.")
@click.pass_obj
def jobs_command(
    app: AppContext,
    states: tuple[str, ...],
    label: str | None,
    limit: int | None,
    uncovered: bool,
    as_json: bool,
) -> None:
    """List jobs in id order: id, state, attempts, duration, path, reason.

    A succeeded job that the coverage check flagged shows how much mapped speech no turn
    accounts for; the last line gives p50/p90 of end_latency_s (the turn-detection latency,
    from the speech map) over the turns of the jobs shown.

    \b
    Examples:
      jobrunner jobs --state failed --state invalid
      jobrunner jobs --label calls --limit 20
      jobrunner jobs --state succeeded --uncovered     # then: jobrunner retry --uncovered
      jobrunner jobs --json | jq -r 'select(.state == "failed") | .path'

    \b
    --json prints one object per line: {id, state, attempts, max_attempts, duration_s, path,
      label, reason, error_kind, sha256, size_bytes, format, subtype, sample_rate, channels,
      frames, priority, fingerprint, run_after, lease_owner, lease_expires_at, created_at,
      updated_at, finished_at, coverage, uncovered_s, end_latency_p50_s,
      end_latency_p90_s}. attempts counts every attempt; max_attempts is where the current
    budget ends. coverage is covered/uncovered (null: no speech map); end_latency_p50_s/p90_s
    are over the job's turns (null without a map). Times are ISO 8601 UTC; keys are only
    ever added.
    """
    if limit is None:
        limit = 0 if as_json else TEXT_LIMIT
    coverage = "uncovered" if uncovered else None
    with open_queue(app.settings().db_url) as store:
        shown = 0
        latencies: list[float] = []
        if not as_json:
            click.echo(f"{'ID':>6}  {'STATE':<9}  {'TRIES':>5}  {'DURATION':>8}  PATH  REASON")
        for job, values in _iter_jobs(store, states or None, label, limit, coverage):
            shown += 1
            latencies.extend(values)
            if as_json:
                click.echo(json.dumps(job_json(job, Latencies.of(values)), ensure_ascii=False))
            else:
                click.echo(line(job))
        if not as_json and limit and shown == limit:
            total = store.count(states=states or None, label=label, coverage=coverage)
            if total > shown:
                click.echo(f"... {total - shown} more (--limit 0 shows all)")
        if not as_json and latencies:
            click.echo(f"end_latency_s of the jobs shown: {Latencies.of(latencies).describe()}")


def _iter_jobs(
    store: Store,
    states: tuple[str, ...] | None,
    label: str | None,
    limit: int,
    coverage: str | None,
) -> Iterator[tuple[JobView, list[float]]]:
    """Jobs with their turns' known ``end_latency_s`` values, a page at a time."""
    after, left = 0, limit or None
    while left is None or left > 0:
        page = store.jobs(
            states=states,
            label=label,
            limit=PAGE if left is None else min(PAGE, left),
            after_id=after,
            coverage=coverage,
        )
        if not page:
            return
        latencies = store.speech.end_latencies([job.id for job in page])
        for job in page:
            yield job, latencies.get(job.id, [])
        after = page[-1].id
        if left is not None:
            left -= len(page)


def line(job: JobView) -> str:
    duration = "-" if job.duration_s is None else format_duration(job.duration_s)
    tries = f"{job.attempts}/{job.max_attempts}"
    reason = job.reason or ""
    if job.state == "running" and job.lease_owner:
        reason = f"worker {job.lease_owner}"
    elif job.state == "succeeded" and job.coverage == "uncovered":
        reason = f"uncovered: {job.uncovered_s or 0.0:.1f} s of speech outside every turn"
    return (
        f"{job.id:>6}  {job.state:<9}  {tries:>5}  {duration:>8}  {cell(job.path)}  {cell(reason)}"
    ).rstrip()
