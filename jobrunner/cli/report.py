"""``jobrunner report``: accuracy, turn detection and throughput as one page (see
:mod:`jobrunner.report`)."""

from __future__ import annotations

from pathlib import Path

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import no_queue_message
from jobrunner.cli.options import job_filters
from jobrunner.errors import UsageError
from jobrunner.report import Report, build_report, write
from jobrunner.store import Store, database_exists

DEFAULT_OUTPUT = "report.html"


def _line(report: Report, target: Path | None) -> str:
    s, td, acc = report.summary, report.turn_detection, report.accuracy
    where = f"wrote {target}" if target is not None else "report"
    parts = [f"{s.total_jobs} files", f"{td.turns} turns"]
    if acc is not None and acc.wer is not None:
        parts.append(f"WER {100 * acc.wer:.1f} % over {len(acc.files)} files")
    if td.end_latency.p50 is not None:
        parts.append(f"median end latency {td.end_latency.p50:.2f} s")
    return f"{where}: {', '.join(parts)}"


def _warnings(report: Report) -> list[str]:
    lines = []
    if report.summary.total_jobs == 0:
        selected = report.selection.label is not None or report.selection.states
        lines.append(
            "note: no jobs match this selection"
            if selected
            else "note: the queue is empty (jobrunner enqueue FOLDER queues files)"
        )
    acc = report.accuracy
    if acc is not None:
        if acc.unmatched_references:
            lines.append(
                f"references: {len(acc.unmatched_references)} name no file in this report "
                f"(e.g. {acc.unmatched_references[0]})"
            )
        if acc.without_reference:
            lines.append(
                f"references: {len(acc.without_reference)} files have none "
                f"(e.g. {acc.without_reference[0]}); WER is over the files that match"
            )
    return lines


@click.command("report")
@click.option(
    "-o",
    "--output",
    metavar="FILE|-",
    help=f"Where to write: a file, or '-' for stdout (default {DEFAULT_OUTPUT}; with --json, "
    "stdout).",
)
@job_filters()
@click.option(
    "--references",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Reference texts: TSV (path<TAB>text) or JSONL ({path, text}); ' | ' marks turns. "
    "Default: NAME.txt beside each audio file, where there is one.",
)
@click.option("--json", "as_json", is_flag=True, help="Write the figures as JSON instead.")
@click.pass_obj
def report_command(
    app: AppContext,
    output: str | None,
    label: str | None,
    states: tuple[str, ...],
    references: Path | None,
    as_json: bool,
) -> None:
    """Write one self-contained HTML page on the queue: summary, accuracy (WER, with
    references), turn detection (latencies against the speech map, false endpoint alarms,
    coverage), a sortable table of files with each file's timeline, and run health
    (concurrency, sessions, 429s, pacing). The page fetches nothing: it opens offline and
    mails as one attachment.

    \b
    Examples:
      jobrunner report                                  # -> report.html
      jobrunner report --references refs.tsv -o calls.html --label calls
      jobrunner report --json | jq .accuracy.wer

    \b
    References: without --references, a sidecar NAME.txt beside each audio file
    (call.wav -> call.txt). A TSV line is PATH<TAB>TEXT, a JSONL line {"path": ..., "text":
    ...}; relative paths are from the references file's folder. WER uses Whisper's English
    text normalizer on both sides and jiwer's alignment; overall WER is total errors over
    total reference words. The JSON (schema jobrunner.report/1) holds the same figures.
    """
    settings = app.settings()
    if not database_exists(settings.db_url):
        raise UsageError(no_queue_message(settings.db_url))
    # read-only: never migrated (open_queue would upgrade a SQLite file); report_queries reads
    # whatever schema revision the database has
    with Store.open(settings.db_url, migrate_schema=False) as store:
        report = build_report(store, states=states or None, label=label, references=references)
    target: Path | None = None
    if output != "-" and not (output is None and as_json):
        target = Path(output or DEFAULT_OUTPUT).expanduser()
    write(report, target, as_json=as_json)
    for line in _warnings(report):
        click.echo(line, err=True)
    if target is not None:
        click.echo(_line(report, target), err=True)
