"""``jobrunner --help`` lists every command without importing any of them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from jobrunner.cli import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_start_of_its_commands_own_help(name: str) -> None:
    target, summary = COMMANDS[name]
    module, attr = target.split(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command) and command.name == name
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert first_paragraph.startswith(summary)


def test_help_lists_every_command_and_imports_none() -> None:
    probe = (
        "import sys\n"
        "from jobrunner.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='jobrunner')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('jobrunner.cli.')"
        " or m.split('.')[0] in ('sqlalchemy', 'websockets', 'numpy', 'alembic')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    *help_lines, imported = done.stdout.strip().splitlines()
    assert imported == "[]"
    listed = [line.split()[0] for line in help_lines if line.startswith("  ") and line.split()]
    assert set(COMMANDS) <= set(listed)
