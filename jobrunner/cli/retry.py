"""``jobrunner retry``: queue failed (or cancelled, or with --force succeeded) jobs again."""

from __future__ import annotations

from dataclasses import replace

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.options import job_filters
from jobrunner.cli.selection import selector
from jobrunner.store import JobState


@click.command("retry")
@click.argument("jobs", nargs=-1, metavar="[JOB_ID|PATH]...")
@click.option("--failed", is_flag=True, help="Failed jobs (the default when no state is given).")
@click.option("--cancelled", is_flag=True, help="Cancelled jobs.")
@click.option(
    "--invalid",
    is_flag=True,
    help="Invalid jobs that a run found invalid (not those refused at enqueue).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Succeeded jobs too (the old transcript stays until a new attempt succeeds).",
)
@click.option(
    "--uncovered",
    is_flag=True,
    help="Succeeded jobs whose coverage check found speech outside every turn.",
)
@job_filters(states=False)
@click.pass_obj
def retry_command(
    app: AppContext,
    jobs: tuple[str, ...],
    failed: bool,
    cancelled: bool,
    invalid: bool,
    force: bool,
    uncovered: bool,
    label: str | None,
) -> None:
    """Queue jobs again with a fresh attempt budget; the next `jobrunner run` does them.

    Without JOB_ID/PATH every failed job (of --label) is queued again; name jobs to pick
    some. --cancelled takes cancelled jobs instead, --invalid invalid ones (add --failed for
    both). --force also re-runs succeeded jobs: the old transcript stays until the new
    attempt succeeds, and a failed re-run leaves it in place. Queued and running jobs are
    never touched, nor are jobs refused at enqueue (an empty, truncated or undecodable file:
    fix it and enqueue it again). --uncovered takes the succeeded jobs that the coverage
    check flagged (a session that dropped speech without an error; see `jobrunner jobs
    --state succeeded --uncovered`); with --failed/--cancelled/--invalid: those too.

    \b
    Examples:
      jobrunner retry                      # every failed job
      jobrunner retry 12 15 ~/calls/a.wav  # these, if failed
      jobrunner retry --cancelled --label calls
      jobrunner retry --invalid            # jobs a run found invalid
      jobrunner retry --force 12           # re-run job 12 whatever its state
      jobrunner retry --uncovered          # re-run jobs whose transcript missed speech
      jobrunner run --retry-failed         # retry every failed job and run, in one go
    """
    states: list[JobState] = []
    if failed or not (cancelled or invalid or uncovered):
        states.append(JobState.FAILED)
    if cancelled:
        states.append(JobState.CANCELLED)
    if invalid:
        states.append(JobState.INVALID)
    if force:
        states.append(JobState.SUCCEEDED)
    chosen = None if force and jobs and not (failed or cancelled or invalid) else tuple(states)
    with open_queue(app.settings().db_url) as store:
        which = selector(jobs, label=label, states=chosen)
        ids = store.requeue(which, force=force, invalid=invalid)
        refused = store.count(states=["invalid"], label=label) if invalid and not jobs else 0
        if uncovered:
            flagged = replace(which, states=(JobState.SUCCEEDED,), coverage="uncovered")
            ids = sorted({*ids, *store.requeue(flagged, force=True)})
    if refused:
        click.echo(
            f"retry: {refused} invalid jobs were refused at enqueue and stay invalid "
            "(fix the file and enqueue it again)"
        )
    if not ids:
        click.echo(
            "retry: no job matched (only failed/cancelled jobs, invalid ones with --invalid, "
            "uncovered ones with --uncovered, or succeeded with --force)"
        )
        return
    shown = ", ".join(f"#{i}" for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
    click.echo(f"retry: {len(ids)} jobs queued again ({shown}); `jobrunner run` does them")
