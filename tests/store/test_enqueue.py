"""enqueue_paths(): walking, filtering, manifests, idempotency, invalid files, dry runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jobrunner.config import Settings
from jobrunner.enqueue import EnqueueResult, enqueue_paths
from jobrunner.errors import UsageError
from jobrunner.store import Store

SETTINGS = Settings()


def wav(path: Path, seconds: float = 0.5, freq: float = 440.0, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.2 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16", format="WAV")
    return path


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as s:
        yield s


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A recordings folder with the usual clutter."""
    root = tmp_path / "rec"
    wav(root / "a.wav", 0.5, 300)
    wav(root / "B.WAV", 1.0, 400)
    wav(root / "sub" / "c.Wav", 0.25, 500)
    wav(root / "sub" / "deeper" / "d.wav", 0.25, 600)
    sf.write(root / "sub" / "e.FLAC", np.zeros(8000), 16000)
    wav(root / ".hidden.wav", freq=700)
    wav(root / ".cache" / "x.wav", freq=800)
    wav(root / "f.wav~", freq=900)
    wav(root / "g.wav.part", freq=1000)
    (root / "notes.txt").write_text("not audio")
    (root / "empty.wav").write_bytes(b"")
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    return root


def by_path(result: EnqueueResult, root: Path) -> dict[str, tuple[str, str | None]]:
    return {
        os.path.relpath(f.path, root): (f.outcome, f.reason)
        for f in result.files
        if f.path.startswith(str(root))
    }


def test_walk_takes_audio_and_counts_what_it_skips(store: Store, tree: Path) -> None:
    result = enqueue_paths(store, SETTINGS, [tree], label="calls", priority=3)
    outcomes = by_path(result, tree)
    assert {p for p, (o, _) in outcomes.items() if o == "new"} == {
        "a.wav", "B.WAV", "sub/c.Wav", "sub/deeper/d.wav", "sub/e.FLAC",
    }  # fmt: skip
    assert outcomes["empty.wav"] == ("invalid", "empty file (0 bytes)")
    assert outcomes[".hidden.wav"] == ("skipped", "hidden")
    assert outcomes[".cache"] == ("skipped", "hidden")
    assert outcomes["f.wav~"] == ("skipped", "temp")
    assert outcomes["g.wav.part"] == ("skipped", "temp")
    assert outcomes["notes.txt"] == ("skipped", "not audio")
    assert outcomes["linked"] == ("skipped", "symlinked folder")
    summary = result.summary
    assert (summary.new, summary.duplicates, summary.invalid, summary.skipped) == (5, 0, 1, 6)
    assert summary.skipped_by_reason == {
        "hidden": 2, "temp": 2, "not audio": 1, "symlinked folder": 1,
    }  # fmt: skip
    assert summary.audio_s == pytest.approx(0.5 + 1.0 + 0.25 + 0.25 + 0.5)
    assert summary.line() == (
        "enqueued 5 new (0:00:02 of audio), 0 duplicates, 1 invalid, "
        "6 skipped (hidden 2, not audio 1, symlinked folder 1, temp 2)"
    )

    jobs = {Path(j.path).name: j for j in store.jobs()}
    a = jobs["a.wav"]
    assert (a.state, a.label, a.priority, a.sample_rate, a.channels, a.frames) == (
        "queued", "calls", 3, 16000, 1, 8000,
    )  # fmt: skip
    assert a.sha256 is not None and len(a.sha256) == 64
    assert a.fingerprint == SETTINGS.fingerprint()
    assert jobs["empty.wav"].state == "invalid"
    assert store.status().count("queued") == 5


def test_no_recursion_and_globs(store: Store, tree: Path) -> None:
    flat = enqueue_paths(None, SETTINGS, [tree], recursive=False, dry_run=True)
    assert {Path(f.path).name for f in flat.files if f.outcome == "new"} == {"a.wav", "B.WAV"}

    only = enqueue_paths(store, SETTINGS, [tree], include=["SUB/*"], exclude=["*/deeper/*"])
    assert {Path(f.path).name for f in only.files if f.outcome == "new"} == {"c.Wav", "e.FLAC"}
    assert only.summary.skipped_by_reason["excluded"] == 4  # a, B, d and empty.wav


def test_same_audio_same_settings_is_a_duplicate(store: Store, tree: Path, tmp_path: Path) -> None:
    first = enqueue_paths(store, SETTINGS, [tree])
    again = enqueue_paths(store, SETTINGS, [tree])
    assert (again.summary.new, again.summary.duplicates, again.summary.invalid) == (0, 5, 1)
    ids = {f.path: f.job_id for f in first.files if f.job_id}
    assert all(ids[f.path] == f.job_id for f in again.files if f.job_id)
    assert [f.new for f in again.files if f.outcome == "invalid"] == [False]

    copy = tmp_path / "copy-of-a.wav"
    copy.write_bytes((tree / "a.wav").read_bytes())
    [dup] = enqueue_paths(store, SETTINGS, [copy]).files
    assert (dup.outcome, dup.job_id) == ("duplicate", ids[str(tree / "a.wav")])

    changed = enqueue_paths(store, SETTINGS.replace(turn_end_threshold=0.3), [tree])
    assert (changed.summary.new, changed.summary.duplicates) == (5, 0)
    assert store.count() == 5 + 1 + 5


def test_manifest_lines_and_csv(store: Store, tree: Path, tmp_path: Path) -> None:
    lines = "# recordings to redo\nrec/a.wav\n\n  rec/sub  \nrec/missing.wav\n"
    (tmp_path / "list.txt").write_text(lines)
    result = enqueue_paths(store, SETTINGS, [], manifest=(lines, tmp_path))
    outcomes = by_path(result, tree)
    assert outcomes["a.wav"][0] == "new"
    assert outcomes["sub/c.Wav"][0] == "new" and outcomes["sub/deeper/d.wav"][0] == "new"
    assert outcomes["missing.wav"] == ("invalid", "file not found")

    table = f'speaker,path,notes\nann,{tree / "B.WAV"},"ok, fine"\nbob,rec/a.wav,\n'
    result = enqueue_paths(store, SETTINGS, [], manifest=(table, tmp_path))
    assert [(Path(f.path).name, f.outcome) for f in result.files] == [
        ("B.WAV", "new"),
        ("a.wav", "duplicate"),
    ]


def test_missing_path_is_a_usage_error_naming_it(store: Store, tree: Path) -> None:
    with pytest.raises(UsageError, match="nope.wav"):
        enqueue_paths(store, SETTINGS, [tree, tree / "nope.wav"])
    assert store.count() == 0  # checked before any work


def test_dry_run_writes_nothing(store: Store, tree: Path) -> None:
    enqueue_paths(store, SETTINGS, [tree / "a.wav"])
    result = enqueue_paths(store, SETTINGS, [tree], dry_run=True)
    assert (result.summary.new, result.summary.duplicates, result.summary.invalid) == (4, 1, 1)
    assert result.summary.line().startswith("would enqueue 4 new")
    assert store.count() == 1
