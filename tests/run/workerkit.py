"""Helpers of the worker tests (pytest puts this folder on ``sys.path`` as ``workerkit``).

Audio comes from the tones engine's encoder, so every transcript is known exactly; files are
short (about 3 s) and streamed fast (pace 20) against a server whose overload check is off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import fast_settings

from jobrunner.config import Settings
from jobrunner.enqueue import enqueue_paths
from jobrunner.server import LocalServer
from jobrunner.server.tones import TurnSpec, turn_texts, write_wav
from jobrunner.store import ExportJob, Store

ROOT = Path(__file__).resolve().parents[2]


def tone_turns(i: int) -> list[TurnSpec]:
    """Two or three turns, different for every file (else enqueue would deduplicate them)."""
    turns: list[TurnSpec] = [f"File {i:03d}.", f" Bye, {i}!"]
    if i % 3 == 0:
        turns.insert(1, [" Wait,", " ok."])
    return turns


def make_files(
    folder: Path, count: int, *, start: int = 0, **timing: float
) -> dict[str, list[str]]:
    """``count`` WAV files; returns path -> the turn texts the tones engine will produce."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, list[str]] = {}
    for i in range(start, start + count):
        turns = tone_turns(i)
        path = write_wav(folder / f"call{i:03d}.wav", turns, **timing)
        expected[str(path)] = turn_texts(turns)
    return expected


def enqueue(store: Store, settings: Settings, folder: Path, label: str | None = None) -> None:
    result = enqueue_paths(store, settings, [folder], label=label)
    assert result.summary.invalid == 0 and result.summary.new > 0


def exported(store: Store) -> dict[str, ExportJob]:
    return {e.job.path: e for e in store.iter_export()}


def assert_all_exact(store: Store, expected: dict[str, list[str]]) -> None:
    """Every job succeeded with exactly the expected turns, in order, and the joined text."""
    jobs = exported(store)
    assert set(jobs) == set(expected)
    for path, texts in expected.items():
        job = jobs[path]
        assert job.job.state == "succeeded", (path, job.job.state, job.job.reason)
        assert [t.transcript for t in job.turns] == texts, path
        assert [t.index for t in job.turns] == list(range(len(texts))), path
        assert job.transcript == "".join(texts)


def profile_file(folder: Path, server: LocalServer, **changes: Any) -> Path:
    """A TOML profile with ``fast_settings`` values (for ``jobrunner run`` subprocesses)."""
    settings = fast_settings(server, "sqlite:///unused", **changes)
    keys = [
        "base_url", "pace", "concurrency", "max_attempts", "lease_ttl_s", "grace_seconds",
        "connect_tries", "backoff_base_s", "backoff_cap_s", "requeue_base_s", "requeue_cap_s",
        "open_timeout_s", "stall_timeout_s", "drain_timeout_s",
    ]  # fmt: skip
    lines = []
    for key in keys:
        value = getattr(settings, key)
        lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    path = folder / "fast.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jobrunner(
    db_url: str, profile: Path, *args: str, key: str | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """A ``jobrunner --db URL --profile FILE ARGS...`` subprocess (stdout/stderr piped), with
    ``key`` as its CARTESIA_API_KEY (none by default)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CARTESIA_API_KEY", None)
    if key is not None:
        env["CARTESIA_API_KEY"] = key
    return subprocess.Popen(
        [sys.executable, "-m", "jobrunner", "--db", db_url, "--profile", str(profile), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
        **popen,
    )


def poll(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "") -> None:
    """Wait until ``condition()`` holds, checking as fast as a DB read allows; no fixed sleep
    decides anything."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)
