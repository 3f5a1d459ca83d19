"""``python -m bench --smoke``: the benchmarks still run end to end, so they cannot rot.

Tiny sizes only (CI never runs the full benchmarks) and no timing asserts: the checks are
that every benchmark ran real, correct work (exact transcripts, no failed session, no
overload trip) and that the report is complete.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the recognizer benchmark (bench/asr.py) loads Whisper: tests/server covers that engine
NAMES = ("makespan", "pacing", "resources", "scaling", "enqueue", "export")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--write", "--out", str(out), *NAMES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.with_suffix(".json").read_text())["benchmarks"]
    return out.read_text(), {name: results[name]["merged"] for name in NAMES}


def test_every_section_is_filled(smoke: tuple[str, dict[str, Any]]) -> None:
    text, _ = smoke
    assert "{{" not in text
    for heading in ("## Targets", "## Makespan", "## Pacing", "## Resource", "## Scaling"):
        assert heading in text
    assert text.count("_Measured ") == len(NAMES)  # one dated section per benchmark run
    assert "cores" in text and "GiB RAM" in text


def test_makespan_runs_are_exact(smoke: tuple[str, dict[str, Any]]) -> None:
    mixed = smoke[1]["makespan"]["mixed"]
    assert mixed["baseline"]["exact"] == mixed["files"]
    assert mixed["jobrunner"], "jobrunner run was not measured"
    for row in mixed["jobrunner"].values():
        assert row["exact"] == row["files"] == row["succeeded"]
        assert 0 < row["efficiency"] <= 1.0
    assert mixed["overload_trips"] == 0


def test_pacing_and_resources_sessions_all_succeed(smoke: tuple[str, dict[str, Any]]) -> None:
    for name in ("pacing", "resources"):
        levels = smoke[1][name]["levels"]
        assert levels, f"{name} measured no level"
        for level in levels:
            assert level.get("failures", {}) == {}
            assert level["overload_trips"] == 0
            assert 0.9 < level["send_rate_mean"] <= 1.01
    long_file = smoke[1]["resources"]["long_file"]
    assert long_file["exact"] is True


def test_scaling_levels_all_succeed(smoke: tuple[str, dict[str, Any]]) -> None:
    levels = smoke[1]["scaling"]["levels"]
    assert levels, "scaling measured no level"
    assert [level["concurrency"] for level in levels] == sorted(
        level["concurrency"] for level in levels
    )
    assert all(level["succeeded"] == level["files"] for level in levels)
