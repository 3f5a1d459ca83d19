"""``jobrunner enqueue`` end to end: real files, a real SQLite file, exit codes and output."""

from __future__ import annotations

import ctypes
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import invoke

from jobrunner.cli.selection import selector
from jobrunner.store import Store


def wav(path: Path, seconds: float = 0.5, freq: float = 440.0) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    sf.write(path, 0.2 * np.sin(2 * np.pi * freq * t), 16000, subtype="PCM_16", format="WAV")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "rec"
    root.mkdir()
    wav(root / "one.wav", 0.5, 300)
    wav(root / "two.WAV", 1.0, 400)
    (root / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    (root / ".DS_Store").write_bytes(b"\x00")
    return root


def test_enqueue_reports_invalid_files_and_ends_with_one_summary_line(
    tmp_path: Path, folder: Path
) -> None:
    result = invoke(tmp_path / "q.db", "enqueue", str(folder), "--label", "demo")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"invalid  {folder / 'broken.wav'}: corrupt WAV file")
    assert lines[-1] == (
        "enqueued 2 new (0:00:02 of audio), 0 duplicates, 1 invalid, 1 skipped (hidden 1)"
    )
    again = invoke(tmp_path / "q.db", "enqueue", str(folder))
    assert again.exit_code == 0
    assert again.stdout.splitlines()[-1].startswith("enqueued 0 new (0:00:00 of audio), 2 dup")


def test_missing_path_exits_2_naming_it_and_writes_nothing(tmp_path: Path, folder: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = invoke(tmp_path / "q.db", "enqueue", str(folder), str(missing))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"jobrunner: error: no such file or folder: {missing}"
    with Store.open(f"sqlite:///{tmp_path / 'q.db'}") as store:
        assert store.count() == 0


def test_usage_errors_exit_2(tmp_path: Path, folder: Path) -> None:
    assert invoke(tmp_path / "q.db", "enqueue").exit_code == 2
    assert (
        invoke(tmp_path / "q.db", "enqueue", "--manifest", str(tmp_path / "none.txt")).exit_code
        == 2
    )
    assert invoke(tmp_path / "q.db", "enqueue", str(folder), "--priority", "high").exit_code == 2
    bad_db = invoke(tmp_path / "nowhere" / "q.db", "enqueue", str(folder))
    assert bad_db.exit_code == 2
    assert "does not exist" in bad_db.stderr


def test_json_output_and_manifest_from_stdin(tmp_path: Path, folder: Path) -> None:
    manifest = f"path\n{folder / 'one.wav'}\n{folder / 'gone.wav'}\n"
    result = invoke(tmp_path / "q.db", "enqueue", "--manifest", "-", "--json", input=manifest)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "jobrunner.enqueue/1"
    assert data["summary"] == {
        "new": 1,
        "duplicates": 0,
        "invalid": 1,
        "skipped": 0,
        "skipped_by_reason": {},
        "audio_s": 0.5,
        "dry_run": False,
    }
    one, gone = data["files"]
    assert (one["outcome"], one["new"], one["duration_s"]) == ("new", True, 0.5)
    assert isinstance(one["job_id"], int) and len(one["sha256"]) == 64
    assert (gone["outcome"], gone["reason"]) == ("invalid", "file not found")


def test_dry_run_creates_no_database(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "q.db"
    result = invoke(db, "enqueue", str(folder), "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("would enqueue 2 new")
    assert not db.exists()


def _without_root_file_access() -> None:
    """In the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so root obeys mode bits."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_becomes_invalid(tmp_path: Path, folder: Path) -> None:
    secret = wav(folder / "locked.wav")
    secret.chmod(0)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "jobrunner", "--db", f"sqlite:///{tmp_path / 'q.db'}"]
            + ["enqueue", "--json", str(secret)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_root_file_access if os.geteuid() == 0 else None,
        )
    finally:
        secret.chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)["files"]
    assert (entry["outcome"], entry["reason"]) == ("invalid", "unreadable: permission denied")


NOT_UTF8 = "file name is not valid UTF-8: rename the file and enqueue it again"


def test_a_file_name_that_is_not_utf8_is_queued_as_invalid_shown_and_exported(
    tmp_path: Path, folder: Path
) -> None:
    os.rename(wav(folder / "cafe.wav", 0.5, 500), os.fsencode(folder) + b"/caf\xe9.wav")
    stored = f"{folder}/caf\\xe9.wav"  # the byte that is not UTF-8 as an escape
    db = tmp_path / "q.db"
    result = invoke(db, "enqueue", str(folder))
    assert result.exit_code == 0, result.output
    assert f"invalid  {stored}: {NOT_UTF8}" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith("enqueued 2 new (0:00:02 of audio), 0 dup")

    rows = invoke(db, "jobs", "--state", "invalid").stdout.splitlines()[1:]
    assert len(rows) == 2 and rows[1].endswith(f"  -  {stored}  {NOT_UTF8}")
    exported = invoke(db, "export", "--state", "invalid", "-o", str(tmp_path / "x.jsonl"))
    assert exported.exit_code == 0, exported.output
    jobs = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert [(j["path"], j["error"]) for j in jobs][1] == (stored, NOT_UTF8)

    manifest = tmp_path / "list.txt"
    manifest.write_bytes(b"rec/caf\xe9.wav\nrec/one.wav\n")  # written by a Latin-1 tool
    listed = invoke(db, "enqueue", "--json", "--manifest", str(manifest))
    assert listed.exit_code == 0, listed.output
    files = json.loads(listed.stdout)["files"]
    assert [(f["path"], f["outcome"], f["new"]) for f in files] == [
        (stored, "invalid", False),
        (str(folder / "one.wav"), "duplicate", False),
    ]
    typed = os.fsdecode(os.fsencode(folder) + b"/caf\xe9.wav")  # as the shell passes it
    assert selector([typed], label=None, states=None).paths == (stored,)  # retry/cancel PATH


def broken_mp3(path: Path) -> Path:
    """An MPEG frame header followed by garbage: libmpg123 prints "Note: Illegal
    Audio-MPEG-Header ..." on stderr itself while libsndfile probes it."""
    rng = random.Random(1)
    path.write_bytes(b"\xff\xfb\x90\x00" + bytes(rng.getrandbits(8) for _ in range(3000)))
    return path


def zero_padded_mp3(path: Path) -> Path:
    """A good MP3 with a run of zeros in the middle (a recorder that lost a write): decodable,
    but libmpg123 complains about every zero frame header."""
    t = np.arange(16000) / 16000
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 16000, format="MP3")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + bytes(4096) + data[len(data) // 2 :])
    return path


def test_libmpg123_noise_never_reaches_the_terminal(tmp_path: Path, folder: Path) -> None:
    bad = broken_mp3(folder / "bad.mp3")
    padded = zero_padded_mp3(folder / "padded.mp3")
    proc = subprocess.run(
        [sys.executable, "-m", "jobrunner", "--db", f"sqlite:///{tmp_path / 'q.db'}"]
        + ["enqueue", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert f"invalid  {bad}: corrupt MP3 file: cannot be decoded" in lines
    assert not any(str(padded) in line for line in lines)  # decodable: queued, not invalid
    assert lines[-1].startswith("enqueued 3 new")


def test_help_shows_examples() -> None:
    result = invoke(None, "enqueue", "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and "jobrunner enqueue ~/recordings" in result.output


def test_channels_set_at_enqueue_are_the_jobs(tmp_path: Path) -> None:
    """``enqueue --channels split`` keys and keeps the job's mode: enqueued again the same way
    it is a duplicate, without the flag it is another job (downmixed), and the queue's
    estimate hears the first job per channel whatever the run's mode."""
    db = tmp_path / "q.db"
    tone = 0.2 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    call = tmp_path / "call.wav"
    silent = np.zeros_like(tone)
    stereo = np.concatenate([np.stack([tone, silent], 1), np.stack([silent, tone], 1)])
    sf.write(call, stereo, 16000, subtype="PCM_16")

    def outcome(*args: str) -> str:
        result = invoke(db, "enqueue", str(call), "--json", *args)
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["files"][0]["outcome"])

    assert outcome("--channels", "split") == "new"
    assert outcome("--channels", "split") == "duplicate"
    assert outcome() == "new"
    assert outcome("--channels", "downmix") == "duplicate"
    assert invoke(db, "enqueue", str(call), "--channels", "both").exit_code == 2
    estimate = invoke(db, "estimate", "--json", "--channels", "downmix")
    assert estimate.exit_code == 0, estimate.output
    assert json.loads(estimate.stdout)["sessions"] == 3  # the split job's 2, the other's 1
