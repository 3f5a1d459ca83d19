"""``jobrunner cancel``: move queued or running jobs to ``cancelled``."""

from __future__ import annotations

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.options import job_filters
from jobrunner.cli.selection import selector
from jobrunner.errors import UsageError
from jobrunner.store import JobState, Selector


@click.command("cancel")
@click.argument("jobs", nargs=-1, metavar="JOB_ID|PATH...")
@job_filters(states=False)
@click.option("--all-queued", is_flag=True, help="Every queued job (of --label).")
@click.pass_obj
def cancel_command(
    app: AppContext, jobs: tuple[str, ...], label: str | None, all_queued: bool
) -> None:
    """Cancel queued or running jobs; `jobrunner retry --cancelled` undoes it.

    A running job's session stops at its worker's next lease renewal (within a third of the
    lease TTL) and nothing of that attempt is stored. Succeeded, failed and invalid jobs are
    left as they are.

    \b
    Examples:
      jobrunner cancel 12 13
      jobrunner cancel ~/calls/broken.wav
      jobrunner cancel --all-queued --label old-batch
    """
    if not jobs and not all_queued:
        raise UsageError("name the jobs to cancel (JOB_ID or PATH), or give --all-queued")
    with open_queue(app.settings().db_url) as store:
        running = {j.id for j in store.jobs(states=[JobState.RUNNING.value], label=label)}
        ids: set[int] = set()
        if jobs:
            ids.update(store.cancel(selector(jobs, label=label, states=None)))
        if all_queued:
            ids.update(store.cancel(Selector(label=label, states=(JobState.QUEUED,))))
    if not ids:
        click.echo("cancel: no queued or running job matched")
        return
    stopping = len(ids & running)
    note = f"; {stopping} running will stop at their next lease renewal" if stopping else ""
    click.echo(f"cancel: {len(ids)} jobs cancelled{note}")
