"""``jobrunner status``, ``jobs`` and ``db``: output a user reads and JSON a script parses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import invoke

from jobrunner.store import head_revision

HEAD = head_revision()

JOB_KEYS = {
    "id", "state", "attempts", "max_attempts", "duration_s", "path", "label", "reason",
    "error_kind", "sha256", "size_bytes", "format", "subtype", "sample_rate", "channels",
    "frames", "priority", "fingerprint", "run_after", "lease_owner", "lease_expires_at",
    "created_at", "updated_at", "finished_at", "coverage", "uncovered_s", "end_latency_p50_s",
    "end_latency_p90_s",
}  # fmt: skip
STATES = ["queued", "running", "succeeded", "failed", "invalid", "cancelled"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A queue with 3 valid jobs labelled 'a', 2 labelled 'b' and 2 invalid ones."""
    for i in range(5):
        folder = tmp_path / ("a" if i < 3 else "b")
        folder.mkdir(exist_ok=True)
        t = np.arange(8000 * (i + 1)) / 16000
        sf.write(folder / f"{i}.wav", 0.1 * np.sin(2 * np.pi * (200 + 50 * i) * t), 16000)
    (tmp_path / "a" / "empty.wav").write_bytes(b"")
    (tmp_path / "b" / "empty.wav").write_bytes(b"")
    path = tmp_path / "q.db"
    for label in ("a", "b"):
        assert invoke(path, "enqueue", str(tmp_path / label), "--label", label).exit_code == 0
    return path


@pytest.mark.parametrize(
    "command",
    [["status"], ["status", "--json"], ["jobs"], ["export"], ["retry"], ["cancel", "1"], ["run"]],
    ids=" ".join,
)
def test_a_folder_without_a_queue_is_told_so_not_shown_an_empty_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the default database is ./jobrunner.db
    result = invoke(None, *command)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "jobrunner: error: no job queue at sqlite:///jobrunner.db "
        f"(no file {tmp_path.resolve() / 'jobrunner.db'}): `jobrunner enqueue PATH...` creates "
        "one; choose another with --db URL or JOBRUNNER_DB\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_only_enqueue_and_db_upgrade_create_a_queue(tmp_path: Path, db: Path) -> None:
    fresh = tmp_path / "fresh.db"
    assert invoke(fresh, "db", "upgrade").exit_code == 0
    data = json.loads(invoke(fresh, "status", "--json").stdout)
    assert data["schema"] == "jobrunner.status/1"
    assert list(data["states"]) == STATES
    assert data["total_jobs"] == 0 and data["oldest_queued"] is None
    assert invoke(db, "status", "--json").exit_code == 0  # created by enqueue (fixture)


def test_status_counts_audio_and_reasons(db: Path) -> None:
    result = invoke(db, "status")
    assert result.exit_code == 0
    text = result.stdout
    assert "jobs: 7 (0.00 h of audio)" in text
    assert [line.split()[:2] for line in text.splitlines()[1:7]] == [
        ["queued", "5"], ["running", "0"], ["succeeded", "0"],
        ["failed", "0"], ["invalid", "2"], ["cancelled", "0"],
    ]  # fmt: skip
    assert "oldest queued: #1 " in text
    assert "2  invalid_audio: empty file (0 bytes)" in text

    data = json.loads(invoke(db, "status", "--json").stdout)
    assert data["states"]["queued"]["audio_s"] == pytest.approx(0.5 + 1 + 1.5 + 2 + 2.5)
    assert data["top_failures"] == [
        {"error_kind": "invalid_audio", "reason": "empty file (0 bytes)", "jobs": 2}
    ]


def test_jobs_lines_filters_and_limit(db: Path, tmp_path: Path) -> None:
    result = invoke(db, "jobs")
    assert result.exit_code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "STATE", "TRIES", "DURATION", "PATH", "REASON"]
    assert len(rows) == 7
    first = rows[0].split()
    assert first == ["1", "queued", "0/5", "0:00:00", str(tmp_path / "a" / "0.wav")]
    invalid = invoke(db, "jobs", "--state", "invalid", "--label", "b").stdout.splitlines()[1:]
    assert len(invalid) == 1
    assert invalid[0].split(None, 4)[1:] == [
        "invalid", "0/5", "-", f"{tmp_path / 'b' / 'empty.wav'}  empty file (0 bytes)",
    ]  # fmt: skip
    limited = invoke(db, "jobs", "--limit", "2").stdout.splitlines()
    assert len(limited) == 4 and limited[-1] == "... 5 more (--limit 0 shows all)"


def test_jobs_json_lines_are_stable(db: Path) -> None:
    result = invoke(db, "jobs", "--json", "--state", "queued", "--state", "invalid")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 7
    assert all(set(obj) == JOB_KEYS for obj in lines)
    assert [obj["id"] for obj in lines] == sorted(obj["id"] for obj in lines)
    assert lines[0]["created_at"].endswith("Z")
    assert invoke(db, "jobs", "--state", "bogus").exit_code == 2


def test_control_characters_in_paths_are_escaped_in_tables_and_exact_in_json(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    t = np.arange(8000) / 16000
    sf.write(folder / "two\nlines.wav", 0.1 * np.sin(2 * np.pi * 300 * t), 16000)
    (folder / "bell\x07\x1b[31mred\tcall.wav").write_bytes(b"")
    db = tmp_path / "q.db"
    enqueued = invoke(db, "enqueue", str(folder))
    assert enqueued.exit_code == 0, enqueued.output
    assert enqueued.stdout.splitlines() == [
        f"invalid  {folder}/bell\\x07\\x1b[31mred\\tcall.wav: empty file (0 bytes)",
        "enqueued 1 new (0:00:00 of audio), 0 duplicates, 1 invalid, 0 skipped",
    ]
    header, *rows = invoke(db, "jobs").stdout.splitlines()
    assert [row.split()[4] for row in rows] == [
        f"{folder}/bell\\x07\\x1b[31mred\\tcall.wav",
        f"{folder}/two\\nlines.wav",
    ]
    status = invoke(db, "status").stdout
    assert f"oldest queued: #2 {folder}/two\\nlines.wav (queued" in status
    exact = [json.loads(line)["path"] for line in invoke(db, "jobs", "--json").stdout.splitlines()]
    assert exact == [str(folder / "bell\x07\x1b[31mred\tcall.wav"), str(folder / "two\nlines.wav")]


def test_db_current_and_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    assert "no database yet" in invoke(db, "db", "current").stdout
    assert not db.exists()
    assert f"upgraded from empty to {HEAD}" in invoke(db, "db", "upgrade").stdout
    assert f"revision {HEAD} (head {HEAD}, up to date)" in invoke(db, "db", "current").stdout
    assert f"already at revision {HEAD}" in invoke(db, "db", "upgrade").stdout


def test_unusable_database_url_exits_2() -> None:
    result = invoke(None, "--db", "not a url", "status")
    assert result.exit_code == 2
    assert result.stderr.startswith("jobrunner: error: not a database URL")


@pytest.mark.parametrize(
    "command", [[], ["status"], ["jobs"], ["db"], ["db", "upgrade"], ["db", "current"]]
)
def test_every_help_has_examples(command: list[str]) -> None:
    result = invoke(None, *command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
