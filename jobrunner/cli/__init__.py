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

#: command name -> "module:attribute"; add a line here when a command module is added.
COMMANDS: dict[str, str] = {
    "enqueue": "jobrunner.cli.enqueue:enqueue_command",
    "status": "jobrunner.cli.status:status_command",
    "jobs": "jobrunner.cli.jobs:jobs_command",
    "db": "jobrunner.cli.db:db_command",
    "transcribe": "jobrunner.cli.transcribe:transcribe",
    "serve": "jobrunner.cli.serve:serve_command",
    "run": "jobrunner.cli.run:run_command",
    "retry": "jobrunner.cli.retry:retry_command",
    "cancel": "jobrunner.cli.cancel:cancel_command",
    "export": "jobrunner.cli.export:export_command",
    "demo": "jobrunner.cli.demo:demo_command",
    "speech": "jobrunner.cli.speech:speech_command",
    "report": "jobrunner.cli.report:report_command",
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
            module_name, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

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
