"""``jobrunner demo``: the end-to-end run on the bundled recordings (see :mod:`jobrunner.demo`)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from jobrunner.cli.progress import choose_reporter
from jobrunner.demo import DemoResult, run_demo
from jobrunner.formatting import format_duration

EXCERPT = 60


def excerpt(text: str, width: int = EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def table(result: DemoResult) -> Table:
    t = Table(title="jobrunner demo", title_justify="left")
    t.add_column("file")
    t.add_column("turns", justify="right")
    t.add_column("transcript")
    t.add_column("audio", justify="right")
    t.add_column("wall", justify="right")
    for row in result.rows:
        if row.status == "succeeded":
            text = excerpt(row.transcript or "")
        else:
            text = f"[red]{row.status}: {excerpt(row.reason or '')}[/red]"
        wall = "-" if row.wall_s is None else f"{row.wall_s:.1f} s"
        t.add_row(row.name, str(row.turns), text, f"{row.duration_s:.1f} s", wall)
    return t


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the demo's database and its transcripts.jsonl / transcripts.csv.",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    metavar="X",
    help="Stream X times faster than realtime (above 1 needs spare CPU for the recognizer).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress on stderr (default: only when stderr is a terminal).",
)
def demo_command(out_dir: Path, pace: float, progress: bool | None) -> None:
    """Run the whole product offline on the bundled recordings, no API key needed.

    Starts the bundled realtime server in this process (real speech recognition: needs
    pip install 'jobrunner[asr]'), queues the five sample recordings into OUT/demo.db (its own
    database, recreated each time; your queue and the global --db/--profile are not used),
    transcribes them at realtime pace with the default concurrency exactly as 'jobrunner run'
    does, prints a table and writes OUT/transcripts.jsonl and OUT/transcripts.csv.

    \b
    Examples:
      jobrunner demo
      jobrunner demo --out /tmp/demo
      jobrunner --db sqlite:///demo-out/demo.db export --format srt -o demo-out/srt
    """
    reporter = choose_reporter(quiet=False, as_json=False, progress=progress)
    click.echo("demo: loading the speech recognizer and starting the local server...", err=True)
    with reporter:
        result = run_demo(
            out_dir,
            pace=pace,
            on_outcome=reporter.on_outcome,
            on_progress=reporter.on_progress,
            handle_signals=True,
        )
    Console(soft_wrap=False).print(table(result))
    summary = result.summary
    audio = sum(r.duration_s for r in result.rows)
    click.echo(
        f"{summary.counts.succeeded} of {len(result.rows)} files, "
        f"{sum(r.turns for r in result.rows)} turns, {format_duration(audio)} of audio in "
        f"{summary.elapsed_s:.1f} s "
        f"(concurrency {summary.ceiling}, {pace:g}x realtime, server {result.server_url})"
    )
    click.echo(f"wrote {', '.join(str(p) for p in result.outputs)}")
    click.echo(f"explore: jobrunner --db {result.db_url} jobs")
    click.get_current_context().exit(result.exit_code)
