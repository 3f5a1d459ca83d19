"""Fixtures of the report tests: a real run through the bundled server, a synthetic run of a
thousand files, and headless Chromium (Debian's ``chromium``, driven by playwright).

The browser tests skip when no Chromium is installed, except under ``JOBRUNNER_REQUIRE_BROWSER``
(set by ``.ci/run``, which installs it), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import reportkit
from helpers import fast_settings

from jobrunner.enqueue import enqueue_paths
from jobrunner.run import RunOptions, run_queue
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.tones import TurnSpec, turn_texts, write_wav
from jobrunner.store import Store

#: the turns of the tones run's files: one has an eager end that resumes (the pause inside)
TONE_FILES: dict[str, list[TurnSpec]] = {
    "booking.wav": ["Hi, a table for four.", " Around seven thirty.", " Thanks!"],
    "internet.wav": ["My internet is down.", [" I tried", " the router."]],
    "weather.wav": ["What is the weather?", " Should I bring an umbrella?"],
    "short.wav": ["Yes."],
}
BROKEN = "broken.wav"


@dataclass(frozen=True)
class ToneRun:
    db_url: str
    audio: Path
    turns: dict[str, list[str]]  # file name -> turn texts the tones engine produces


def make_tone_run(folder: Path) -> ToneRun:
    """A real ``jobrunner run`` (the bundled server's tones engine) of four files and an
    undecodable one (invalid), in ``folder``."""
    audio = folder / "audio"
    audio.mkdir()
    turns = {}
    for name, spec in TONE_FILES.items():
        write_wav(audio / name, spec)
        turns[name] = turn_texts(spec)
    (audio / BROKEN).write_text("this is not audio\n", encoding="utf-8")
    db_url = f"sqlite:///{folder / 'jobs.db'}"
    with LocalServer(ServerConfig(port=0, max_rate=0.0)) as server, Store.open(db_url) as store:
        settings = fast_settings(server, db_url)
        enqueue_paths(store, settings, [audio], label="tones")
        summary = run_queue(settings, store, options=RunOptions())
    assert summary.counts.succeeded == len(TONE_FILES), summary
    return ToneRun(db_url, audio, turns)


@pytest.fixture(scope="session")
def tone_run(tmp_path_factory: pytest.TempPathFactory) -> ToneRun:
    """One tones run shared by the tests that only read it."""
    return make_tone_run(tmp_path_factory.mktemp("tone-run"))


@pytest.fixture(scope="session")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A synthetic run of 1,000 files (with speech maps) and its references TSV."""
    folder = tmp_path_factory.mktemp("thousand")
    db_url = f"sqlite:///{folder / 'jobs.db'}"
    with Store.open(db_url) as store:
        made = reportkit.fill(store, 1000)
    refs = folder / "refs.tsv"
    reportkit.write_tsv(refs, made.references)
    return db_url, refs


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one test module. Playwright's sync API keeps an asyncio loop
    running in this thread while it lives, so no ``anyio.run`` (a real run, the demo) may
    happen meanwhile: request the run fixtures *before* this one."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("JOBRUNNER_REQUIRE_BROWSER"):
            pytest.fail("no chromium on PATH: apt-get install chromium (see .ci/run)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()
