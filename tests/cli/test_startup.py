"""Start-up stays lean: what ``--help``, ``status`` and ``run`` on an empty queue import; and
which event loop ``run`` starts.

Each command runs in a fresh interpreter that then lists ``sys.modules``; a heavy library a
command does not need (the audio stack, websockets, the rich display, alembic, the bundled
server) must stay out. Timings are in ``bench/startup.py``; this holds the import set, which is
what the timings come from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobrunner.store import Store

#: run the CLI in-process (with the modules in argv[1] made unimportable), then report
PROBE = """
import json, sys
for name in filter(None, sys.argv[1].split(",")):
    sys.modules[name] = None
from jobrunner.cli import cli
try:
    cli.main(sys.argv[2:], prog_name="jobrunner")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

#: never needed before there is audio to read or a session to open
AUDIO_AND_SESSIONS = {"numpy", "soundfile", "websockets", "tenacity", "jobrunner.client"}
#: never needed by these commands on an up-to-date database, nor without a terminal
#: (``jobrunner.audio`` itself may load: its ``span`` names a piece's frames without numpy;
#: the audio stack is numpy and soundfile above)
ELSEWHERE = {"alembic", "rich", "jobrunner.server", "jobrunner.export"}


@dataclass
class Ran:
    code: int
    loaded: set[str]  # top-level packages, and jobrunner's subpackages
    stderr: str


def fresh(*args: str, hide: tuple[str, ...] = ()) -> Ran:
    """``jobrunner ARGS`` in a fresh interpreter (``hide``: modules that fail to import)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(hide), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    *before, last = done.stderr.strip().splitlines() or [""]
    assert last.startswith("{"), done.stderr  # the probe's report is the last line
    report = json.loads(last)
    modules: list[str] = report["modules"]
    loaded = {m.split(".")[0] for m in modules} | {
        ".".join(m.split(".")[:2]) for m in modules if m.startswith("jobrunner.")
    }
    return Ran(report["code"] or 0, loaded, "\n".join(before))


@pytest.fixture
def up_to_date_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with Store.open(url):
        pass
    return url


def test_help_imports_no_database_and_no_audio() -> None:
    ran = fresh("--help")
    assert ran.code == 0 and "click" in ran.loaded
    heavy = {"sqlalchemy", "anyio", "jobrunner.store", *AUDIO_AND_SESSIONS, *ELSEWHERE}
    assert ran.loaded & heavy == set()


def test_status_imports_the_store_but_no_audio_sessions_or_migrations(up_to_date_db: str) -> None:
    ran = fresh("--db", up_to_date_db, "status")
    assert ran.code == 0 and {"sqlalchemy", "jobrunner.store"} <= ran.loaded
    assert ran.loaded & (AUDIO_AND_SESSIONS | ELSEWHERE | {"anyio"}) == set()


def test_run_on_an_empty_queue_loads_no_session_client(up_to_date_db: str) -> None:
    ran = fresh("--profile", "local", "--db", up_to_date_db, "run", "--no-progress")
    assert ran.code == 0 and {"anyio", "jobrunner.run"} <= ran.loaded
    assert ran.loaded & (AUDIO_AND_SESSIONS | ELSEWHERE) == set()


def test_run_takes_uvloop_when_installed_and_asyncio_when_not(up_to_date_db: str) -> None:
    args = ("--profile", "local", "--db", up_to_date_db, "run", "--no-progress")
    assert "uvloop" in fresh(*args).loaded  # --loop auto, the default
    assert "uvloop" not in fresh(*args, "--loop", "asyncio").loaded
    without = fresh(*args, hide=("uvloop",))
    assert without.code == 0 and "run: 0 succeeded" in without.stderr


def test_asking_for_uvloop_where_it_is_missing_is_a_configuration_error(
    up_to_date_db: str,
) -> None:
    args = ("--profile", "local", "--db", up_to_date_db, "run", "--loop", "uvloop")
    ran = fresh(*args, hide=("uvloop",))
    assert ran.code == 2 and "uvloop is not installed" in ran.stderr
    assert fresh(*args[:-1], "trio").code == 2
