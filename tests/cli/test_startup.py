"""Start-up stays lean: what ``--help``, ``status`` and ``run`` on an empty queue import.

Each command runs in a fresh interpreter that then lists ``sys.modules``; a heavy library a
command does not need (the audio stack, websockets, the rich display, alembic, the bundled
server) must stay out. Timings are in ``bench/startup.py``; this holds the import set, which is
what the timings come from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobrunner.store import Store

#: run the CLI in-process, then print the imported top-level packages and jobrunner modules
PROBE = """
import json, sys
from jobrunner.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="jobrunner")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

#: never needed before there is audio to read or a session to open
AUDIO_AND_SESSIONS = {"numpy", "soundfile", "websockets", "tenacity", "jobrunner.client"}
#: never needed by these commands on an up-to-date database, nor without a terminal
ELSEWHERE = {"alembic", "rich", "jobrunner.server", "jobrunner.audio", "jobrunner.export"}


def imported(*args: str) -> set[str]:
    """Top-level packages, and jobrunner's subpackages, that ``jobrunner ARGS`` imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    modules: list[str] = report["modules"]
    return {m.split(".")[0] for m in modules} | {
        ".".join(m.split(".")[:2]) for m in modules if m.startswith("jobrunner.")
    }


@pytest.fixture
def up_to_date_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with Store.open(url):
        pass
    return url


def test_help_imports_no_database_and_no_audio() -> None:
    loaded = imported("--help")
    assert "click" in loaded
    heavy = {"sqlalchemy", "anyio", "jobrunner.store", *AUDIO_AND_SESSIONS, *ELSEWHERE}
    assert loaded & heavy == set()


def test_status_imports_the_store_but_no_audio_sessions_or_migrations(up_to_date_db: str) -> None:
    loaded = imported("--db", up_to_date_db, "status")
    assert {"sqlalchemy", "jobrunner.store"} <= loaded
    assert loaded & (AUDIO_AND_SESSIONS | ELSEWHERE | {"anyio"}) == set()


def test_run_on_an_empty_queue_loads_no_session_client(up_to_date_db: str) -> None:
    loaded = imported("--profile", "local", "--db", up_to_date_db, "run", "--no-progress")
    assert {"anyio", "jobrunner.run"} <= loaded
    assert loaded & (AUDIO_AND_SESSIONS | ELSEWHERE) == set()
