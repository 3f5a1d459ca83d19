"""``jobrunner enqueue``: queue audio files and folders (see :mod:`jobrunner.enqueue`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jobrunner.cli import AppContext
from jobrunner.cli.options import progress_option
from jobrunner.cli.views import cell, enqueue_json, enqueue_line
from jobrunner.config import CHANNEL_MODES, ENDPOINTS
from jobrunner.enqueue import enqueue_paths
from jobrunner.errors import UsageError
from jobrunner.store import Selector, Store, database_exists


def _read_manifest(manifest: str) -> tuple[str, Path]:
    """The manifest's text and the folder its relative paths start from. A path is bytes to the
    OS: a line that is not UTF-8 still names a file (kept as os.fsdecode would), not an error."""
    if manifest == "-":
        data, base = sys.stdin.buffer.read(), Path.cwd()
    else:
        data, base = Path(manifest).read_bytes(), Path(manifest).resolve().parent
    return data.decode("utf-8-sig", "surrogateescape"), base


@click.command("enqueue")
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option(
    "--recursive/--no-recursive", default=True, show_default=True, help="Walk sub-folders."
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only walked files matching GLOB.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip walked files matching GLOB.")
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="File listing paths: one per line, or a CSV with a 'path' column ('-' = stdin).",
)
@click.option("--label", metavar="NAME", help="Tag the new jobs (run/jobs/export can filter).")
@click.option(
    "--endpoint",
    type=click.Choice(ENDPOINTS),
    help="Transcribe through auto (turn detection), manual (finalize at the ends of mapped "
    "speech) or batch (one upload); default from the profile: auto.",
)
@click.option("--priority", type=int, default=0, show_default=True, help="Higher runs first.")
@click.option(
    "--channels",
    type=click.Choice(CHANNEL_MODES),
    help="How the jobs hear multichannel files: one session over the downmix (default), one "
    "per channel (split), or per channel when the channels differ (auto). Part of the job.",
)
@click.option("--dry-run", is_flag=True, help="Probe and report; write nothing.")
@click.option(
    "--analyze",
    is_flag=True,
    help="Also compute the files' speech maps now, with progress (else `run` does it).",
)
@progress_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema below).")
@click.pass_obj
def enqueue_command(
    app: AppContext,
    paths: tuple[str, ...],
    recursive: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    manifest: str | None,
    label: str | None,
    endpoint: str | None,
    priority: int,
    channels: str | None,
    dry_run: bool,
    analyze: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Queue audio files and folders as jobs, once each.

    Every file is probed (format, rate, channels, duration; truncated or corrupt files are
    caught here) and hashed. Re-enqueueing the same audio with the same result-changing settings
    (endpoint, model, encoding, downmix, channel mode, turn thresholds, keyterms) is a no-op
    reported as a duplicate; the same folder through another --endpoint makes new jobs, to
    compare.
    Files that cannot be streamed become 'invalid' jobs with a reason; hidden and temp files,
    other extensions and symlinked folders are skipped and counted. Globs match the path
    relative to the folder walked, or the file name, case-insensitively. A PATH that does not
    exist is a usage error (exit 2). A manifest line naming a missing file makes an invalid job.

    \b
    Examples:
      jobrunner enqueue ~/recordings --label calls
      jobrunner enqueue ~/recordings --include '*.wav' --exclude 'old/*'
      jobrunner enqueue --manifest files.csv --priority 10
      jobrunner enqueue calls/ --channels split   # agent and caller transcribed apart
      jobrunner enqueue ~/recordings --dry-run --json | jq .summary
      jobrunner enqueue ~/recordings --analyze      # speech maps now, not during the run
      jobrunner enqueue ~/recordings --endpoint batch --label batch

    --analyze maps the speech in every enqueued file (new and duplicates) after probing, once
    per content, and stores the maps (see `jobrunner analyze`); a file that cannot be mapped
    is reported on stderr and stays queued.

    --channels (setting `channels`) is the job's: a job enqueued with split or auto is run
    that way whatever the run's --channels, which applies to the jobs enqueued with the
    default, downmix.

    \b
    --json prints {"schema": "jobrunner.enqueue/1",
      "summary": {new, duplicates, invalid, skipped, skipped_by_reason, audio_s, dry_run},
      "files": [{path, outcome: new|duplicate|invalid|skipped, job_id, new, reason,
                 duration_s, sha256}]}
    """
    if not paths and manifest is None:
        raise UsageError("nothing to enqueue: give PATH... or --manifest FILE")
    if analyze and dry_run:
        raise UsageError("--analyze stores speech maps: not with --dry-run")
    manifest_data = None if manifest is None else _read_manifest(manifest)
    settings = app.settings(endpoint=endpoint, channels=channels)
    if dry_run:
        store = None
        if database_exists(settings.db_url):
            store = Store.open(settings.db_url, migrate_schema=False)
            if store.revision() is None:
                store.close()
                store = None
    else:
        store = Store.open(settings.db_url)
    try:
        result = enqueue_paths(
            store,
            settings,
            paths,
            recursive=recursive,
            include=include,
            exclude=exclude,
            manifest=manifest_data,
            label=label,
            priority=priority,
            dry_run=dry_run,
        )
        ids = tuple(f.job_id for f in result.files if f.job_id is not None and not f.reason)
        if analyze and store is not None and ids:
            from jobrunner.cli.analyze import run_analysis  # the detector: only when asked

            _, lines = run_analysis(store, Selector(ids=ids), progress=progress)
            for line in lines:
                click.echo(line, err=True)
    finally:
        if store is not None:
            store.close()
    if as_json:
        click.echo(json.dumps(enqueue_json(result), ensure_ascii=False))
        return
    for f in result.files:
        if f.outcome == "invalid":
            click.echo(f"invalid  {cell(f.path)}: {cell(f.reason or '')}")
    click.echo(enqueue_line(result.summary))
