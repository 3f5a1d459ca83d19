"""The click layer: each command parses options and calls one library function.

Commands live one per module (``jobrunner/cli/<name>.py``) and are imported lazily, so
``jobrunner --help`` stays fast and a command's heavy imports (numpy, websockets, the
recognizer) load only when it runs. One handler turns a :class:`JobrunnerError` into a single
line on stderr and the error's exit code.

Exit codes: 0 success, 1 some jobs failed, 2 usage or configuration, 3 authentication or
credits, 130 interrupted.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from typing import Any

import click

from jobrunner import __version__
from jobrunner.config import Settings, load_settings
from jobrunner.errors import JobrunnerError

# jobrunner's numpy work is many tiny products (the tones decoder, resampling, downmix), for which
# OpenBLAS' thread pool only spins: on 2 cores it cost the local server ~40x its CPU per audio
# second (bench/server.py). Set before any command imports numpy; a user's own value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: command name -> ("module:attribute", its one-line summary). ``jobrunner --help`` lists the
#: summaries without importing any command (a test holds them to each command's own help); add
#: a line here when a command module is added.
COMMANDS: dict[str, tuple[str, str]] = {
    "enqueue": (
        "jobrunner.cli.enqueue:enqueue_command",
        "Queue audio files and folders as jobs, once each.",
    ),
    "status": (
        "jobrunner.cli.status:status_command",
        "Jobs and audio hours per state, the oldest queued job, the most common failure",
    ),
    "jobs": (
        "jobrunner.cli.jobs:jobs_command",
        "List jobs in id order: id, state, attempts, duration, path, reason.",
    ),
    "db": ("jobrunner.cli.db:db_command", "Database schema: show the revision or upgrade it."),
    "transcribe": (
        "jobrunner.cli.transcribe:transcribe",
        "Transcribe one recording through a realtime session; no database.",
    ),
    "serve": (
        "jobrunner.cli.serve:serve_command",
        "Run the local server: Cartesia's three STT endpoints, offline, on one port.",
    ),
    "run": (
        "jobrunner.cli.run:run_command",
        "Transcribe the queued jobs through at most N realtime sessions at once.",
    ),
    "retry": (
        "jobrunner.cli.retry:retry_command",
        "Queue jobs again with a fresh attempt budget; the next `jobrunner run` does them.",
    ),
    "cancel": (
        "jobrunner.cli.cancel:cancel_command",
        "Cancel queued or running jobs; `jobrunner retry --cancelled` undoes it.",
    ),
    "export": (
        "jobrunner.cli.export:export_command",
        "Export jobs with their transcripts and per-turn timings, in id order.",
    ),
    "demo": (
        "jobrunner.cli.demo:demo_command",
        "Run the whole product offline on the bundled recordings, no API key needed.",
    ),
    "speech": (
        "jobrunner.cli.speech:speech_command",
        "Print where FILE has speech, from the voice activity detector behind the speech map.",
    ),
    "analyze": (
        "jobrunner.cli.analyze:analyze_command",
        "Compute speech maps for jobs and align their transcripts with them.",
    ),
    "report": (
        "jobrunner.cli.report:report_command",
        "Write one self-contained HTML page on the queue: summary, accuracy (WER, with",
    ),
}


@dataclass
class AppContext:
    """Global options, resolved lazily so ``--help`` never reads a config file."""

    db: str | None
    profile: str | None

    def settings(self, **overrides: Any) -> Settings:
        """Settings with this command's flags applied on top (``None`` = flag not given)."""
        return load_settings(profile=self.profile, overrides={"db_url": self.db, **overrides})


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMANDS`' summaries: ``--help`` imports no command."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=summary).get_short_help_str(limit))
            for name, (_, summary) in sorted(COMMANDS.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobrunnerError as exc:
            click.echo(f"jobrunner: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jobrunner")
@click.option(
    "--db",
    envvar="JOBRUNNER_DB",
    metavar="URL",
    help="Database URL (default sqlite:///jobrunner.db; env JOBRUNNER_DB).",
)
@click.option(
    "--profile",
    envvar="JOBRUNNER_PROFILE",
    metavar="NAME|FILE",
    help="Settings profile: 'cartesia' (default), 'local', or a TOML file.",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, db: str | None, profile: str | None, verbose: int) -> None:
    """Transcribe folders of recordings through Cartesia's realtime STT with turn detection.

    \b
    Examples:
      jobrunner enqueue ~/recordings --label calls
      jobrunner run -c 8
      jobrunner status
      jobrunner export --format csv -o out.csv
      jobrunner --profile local serve          # the bundled offline server

    Exit codes: 0 ok, 1 some jobs failed, 2 usage/config, 3 authentication/credits,
    130 interrupted.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = AppContext(db=db, profile=profile)


def main() -> None:
    cli.main(prog_name="jobrunner")
