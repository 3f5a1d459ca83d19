"""``jobrunner status``: what the queue holds, by state."""

from __future__ import annotations

import json

import click

from jobrunner.cli import AppContext
from jobrunner.enqueue import format_duration
from jobrunner.store import StatusReport, Store


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema below).")
@click.pass_obj
def status_command(app: AppContext, as_json: bool) -> None:
    """Jobs and audio hours per state, the oldest queued job, the most common failure
    reasons and the workers holding leases.

    \b
    Examples:
      jobrunner status
      jobrunner --db sqlite:///other.db status --json | jq .states.failed.jobs

    \b
    --json prints {"schema": "jobrunner.status/1", "generated_at", "total_jobs",
      "total_audio_s", "states": {STATE: {jobs, audio_s, audio_h}} for every state
      (queued running succeeded failed invalid cancelled), "queued_waiting" (queued jobs
      waiting for a retry backoff), "oldest_queued": {id, path, created_at, age_s} | null,
      "top_failures": [{error_kind, reason, jobs}], "workers": [{owner, running,
      lease_expires_at}]}. Times are ISO 8601 UTC; keys are only ever added.
    """
    with Store.open(app.settings().db_url) as store:
        report = store.status()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo(render(report))


def render(report: StatusReport) -> str:
    hours = report.total_audio_s / 3600
    lines = [f"jobs: {report.total_jobs} ({hours:.2f} h of audio)"]
    for s in report.states:
        extra = ""
        if s.state == "queued" and report.queued_waiting:
            extra = f"   ({report.queued_waiting} waiting for a retry backoff)"
        lines.append(f"  {s.state:<10} {s.jobs:>8}  {s.audio_s / 3600:>9.2f} h{extra}")
    oldest = report.oldest_queued
    if oldest is not None:
        age = (report.generated_at - oldest.created_at).total_seconds()
        lines.append(
            f"oldest queued: #{oldest.id} {oldest.path} (queued {format_duration(age)} ago)"
        )
    if report.top_failures:
        lines.append("most common failure reasons:")
        for f in report.top_failures:
            lines.append(f"  {f.jobs:>6}  {f.error_kind or '-'}: {f.reason or '-'}")
    if report.workers:
        lines.append("workers:")
        for w in report.workers:
            lines.append(f"  {w.owner}  {w.running} running")
    return "\n".join(lines)
