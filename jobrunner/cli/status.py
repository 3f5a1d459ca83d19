"""``jobrunner status``: what the queue holds, by state."""

from __future__ import annotations

import json
from datetime import datetime

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.views import cell, status_json
from jobrunner.formatting import format_duration, iso
from jobrunner.store import STATES, StatusReport, WorkerView


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema below).")
@click.pass_obj
def status_command(app: AppContext, as_json: bool) -> None:
    """Jobs and audio hours per state, the oldest queued job, the most common failure
    reasons, the workers holding leases (host, pid, running jobs, lease expiry), and from the
    speech map: p50/p90 of the turn-detection latency (end_latency_s) and the succeeded jobs
    whose coverage check found speech outside every turn.

    \b
    Examples:
      jobrunner status
      jobrunner --db sqlite:///other.db status --json | jq .states.failed.jobs

    \b
    --json prints {"schema": "jobrunner.status/1", "generated_at", "total_jobs",
      "total_audio_s", "states": {STATE: {jobs, audio_s, audio_h}} for every state
      (queued running succeeded failed invalid cancelled), "queued_waiting" (queued jobs
      waiting for a retry backoff), "oldest_queued": {id, path, created_at, age_s} | null,
      "top_failures": [{error_kind, reason, jobs}], "workers": [{owner, host, pid,
      running, job_ids, lease_expires_at, live}], "turns_ended_by_close", "end_latency":
      {turns, p50_s, p90_s}, "uncovered"} (workers: every process holding leases, on any
      machine; live false = its leases expired; turns_ended_by_close: stored turns that the
      server's normal close cut off, their text is the last update; end_latency: p50/p90 of
      end_latency_s over every turn aligned with a speech map, null without one; uncovered:
      succeeded jobs flagged by the coverage check), "pieces": {"split_running", "states":
      {STATE: pieces}} (running jobs split into pieces, and their pieces by state). Jobs are
      counted, never their pieces. Times are ISO 8601 UTC; keys are only ever added.
    """
    with open_queue(app.settings().db_url) as store:
        report = store.status()
    if as_json:
        click.echo(json.dumps(status_json(report), ensure_ascii=False))
    else:
        click.echo(render(report))


def render(report: StatusReport) -> str:
    hours = report.total_audio_s / 3600
    lines = [f"jobs: {report.total_jobs} ({hours:.2f} h of audio)"]
    for s in report.states:
        extra = ""
        if s.state == "queued" and report.queued_waiting:
            extra = f"   ({report.queued_waiting} waiting for a retry backoff)"
        if s.state == "running" and report.split_running:
            extra = f"   ({pieces_line(report)})"
        lines.append(f"  {s.state:<10} {s.jobs:>8}  {s.audio_s / 3600:>9.2f} h{extra}")
    oldest = report.oldest_queued
    if oldest is not None:
        age = (report.generated_at - oldest.created_at).total_seconds()
        lines.append(
            f"oldest queued: #{oldest.id} {cell(oldest.path)} (queued {format_duration(age)} ago)"
        )
    if report.top_failures:
        lines.append("most common failure reasons:")
        for f in report.top_failures:
            lines.append(f"  {f.jobs:>6}  {f.error_kind or '-'}: {cell(f.reason or '-')}")
    if report.turns_ended_by_close:
        lines.append(
            f"turns ended by the server's close: {report.turns_ended_by_close} "
            "(their text is the last update)"
        )
    if report.uncovered:
        lines.append(
            f"coverage: {report.uncovered} succeeded jobs have speech outside every turn "
            "(jobrunner jobs --state succeeded --uncovered)"
        )
    if report.end_latency.turns:
        lines.append(f"turn-detection latency (end_latency_s): {report.end_latency.describe()}")
    lines.extend(render_workers(report))
    return "\n".join(lines)


def pieces_line(report: StatusReport) -> str:
    """``2 split into 9 pieces: 6 running, 3 queued``: the running jobs split into pieces."""
    total = sum(report.pieces.values())
    parts = [f"{n} {state}" for state, n in sorted(report.pieces.items(), key=_lifecycle) if n]
    return f"{report.split_running} split into {total} pieces: {', '.join(parts)}"


def _lifecycle(item: tuple[str, int]) -> int:
    return [s.value for s in STATES].index(item[0])


#: job ids listed per worker before "+N more"
SHOWN_SESSIONS = 8


def render_workers(report: StatusReport) -> list[str]:
    """One line per worker holding leases: where it runs, its sessions, its lease."""
    if not report.workers:
        return []
    live = sum(w.live for w in report.workers)
    dead = len(report.workers) - live
    lines = [f"workers: {live} live" + (f", {dead} with expired leases" if dead else "")]
    for w in report.workers:
        where = f"host {cell(w.host)} pid {w.pid}  " if w.host is not None else ""
        shown = " ".join(f"#{i}" for i in w.job_ids[:SHOWN_SESSIONS])
        more = len(w.job_ids) - SHOWN_SESSIONS
        sessions = f"{w.running} running: {shown}" + (f" +{more} more" if more > 0 else "")
        lines.append(f"  {cell(w.owner)}  {where}{sessions}  {_lease(w, report.generated_at)}")
    return lines


def _lease(worker: WorkerView, now: datetime) -> str:
    expires = worker.lease_expires_at
    if expires is None:
        return "no lease expiry"
    left = (expires - now).total_seconds()
    stamp = iso(expires.replace(microsecond=0))
    if worker.live:
        return f"lease until {stamp} ({format_duration(left)} left)"
    return f"lease expired {format_duration(-left)} ago at {stamp}: jobs go back at the next reap"
