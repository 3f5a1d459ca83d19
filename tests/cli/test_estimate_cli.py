"""``jobrunner estimate`` and ``run --dry-run`` on real files and a real SQLite queue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import invoke

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"
if not (SPEECH / "segments.json").is_file():
    pytest.skip(f"shared speech samples not found at {SPEECH}", allow_module_level=True)

RATE = 16000
CLIPS = ("s01_weather", "s02_meeting", "s03_fox", "s04_lights")


def talk(repeats: int) -> np.ndarray:
    """Sentences with 2 s of silence after each, ``repeats`` times (about 27 s a round)."""
    gap = np.zeros(2 * RATE, np.float32)
    clips = [sf.read(SPEECH / f"{n}.wav", dtype="float32")[0] for n in CLIPS]
    return np.tile(np.concatenate([x for c in clips for x in (c, gap)]), repeats)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "long.wav", talk(5), RATE, subtype="PCM_16")
    sf.write(audio / "short.wav", talk(1), RATE, subtype="PCM_16")
    one = talk(1)
    silent = np.zeros_like(one)
    call = np.concatenate([np.stack([one, silent], 1), np.stack([silent, one], 1)])
    sf.write(audio / "call.wav", call, RATE, subtype="PCM_16")
    return audio


def estimate_json(db: Path | None, *args: str) -> dict[str, object]:
    result = invoke(db, *args, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, object] = json.loads(result.output)
    return doc


def test_paths_say_hours_sessions_pieces_makespan(folder: Path) -> None:
    doc = estimate_json(None, "estimate", str(folder), "-c", "4", "--split-min", "60")
    assert doc["files"] == 3 and doc["sessions"] == 3
    assert doc["audio_s"] == pytest.approx(8 * len(talk(1)) / RATE, abs=0.01)
    assert 0.3 < doc["speech_s"] / doc["audio_s"] < 0.7  # type: ignore[operator]
    assert doc["pieces"] == 4  # two short files keep 2 of 4 sessions: long.wav in 2
    assert doc["makespan_split_s"] < doc["makespan_unsplit_s"]  # type: ignore[operator]
    assert doc["cost"] is None


def test_channels_split_and_auto_make_a_call_two_sessions(folder: Path) -> None:
    call = str(folder / "call.wav")
    assert estimate_json(None, "estimate", call)["sessions"] == 1
    split = estimate_json(None, "estimate", call, "--channels", "split")
    assert split["sessions"] == 2
    assert split["sent_s"] == pytest.approx(2 * split["audio_s"], abs=0.002)  # type: ignore[operator]
    assert estimate_json(None, "estimate", call, "--channels", "auto")["sessions"] == 2


def test_no_split_and_price(folder: Path) -> None:
    doc = estimate_json(
        None, "estimate", str(folder), "--no-split", "--split-min", "60", "--price", "0.5"
    )
    assert doc["pieces"] == 3
    assert doc["cost"] == pytest.approx(doc["sent_s"] / 3600 * 0.5, abs=1e-4)  # type: ignore[operator]


def test_table_says_how_to_set_a_price(folder: Path) -> None:
    result = invoke(None, "estimate", str(folder / "short.wav"))
    assert result.exit_code == 0, result.output
    names = [line.split("  ")[0] for line in result.output.splitlines()]
    assert names == ["files", "audio", "speech", "sessions", "pieces", "makespan -c 4", "cost"]
    assert "--price X" in result.output and "price_per_audio_hour" in result.output


def test_queue_estimate_maps_once_and_dry_run_runs_nothing(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    assert invoke(db, "enqueue", str(folder)).exit_code == 0
    queue = estimate_json(db, "estimate", "-c", "4", "--split-min", "60")
    paths = estimate_json(None, "estimate", str(folder), "-c", "4", "--split-min", "60")
    assert queue == paths
    analyzed = invoke(db, "analyze", "--all")  # the maps the estimate computed are kept
    assert analyzed.exit_code == 0 and "0 maps computed" in analyzed.output, analyzed.output
    dry = estimate_json(db, "run", "--dry-run", "-c", "4")
    assert dry["files"] == 3 and dry["concurrency"] == 4
    assert states(db) == ["queued"] * 3


def states(db: Path) -> list[str]:
    lines = invoke(db, "jobs", "--json").output.splitlines()
    return [json.loads(line)["state"] for line in lines]


def test_unreadable_files_are_listed_and_counted_whole(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    assert invoke(db, "enqueue", str(folder)).exit_code == 0
    (folder / "short.wav").unlink()  # gone since it was enqueued
    queue = estimate_json(db, "estimate")
    assert queue["files"] == 3 and queue["unmapped"] == 1
    assert [u["path"] for u in queue["unreadable"]] == [str(folder / "short.wav")]  # type: ignore[attr-defined,index]
    (folder / "notes.wav").write_text("not audio\n")
    bare = invoke(None, "estimate", str(folder))
    assert bare.exit_code == 0, bare.output
    assert bare.output.splitlines()[0].split() == ["files", "2", "(1", "unreadable)"]
    assert f"unreadable: {folder / 'notes.wav'}: " in bare.output


def test_dry_run_reports_what_that_run_would_do(folder: Path, tmp_path: Path) -> None:
    """The run's flags and settings (channels, split, split-min) shape its dry run."""
    db = tmp_path / "q.db"
    assert invoke(db, "enqueue", str(folder)).exit_code == 0
    base = ("run", "--dry-run", "-c", "4", "--split-min", "60")
    assert estimate_json(db, *base)["pieces"] == 4  # long.wav in 2
    dry = estimate_json(db, *base, "--channels", "split", "--no-split")
    assert (dry["sessions"], dry["pieces"], dry["split"]) == (4, 4, False)
    same = ("-c", "4", "--split-min", "60", "--channels", "split", "--no-split")
    assert estimate_json(db, "estimate", *same) == dry


def test_estimate_takes_its_defaults_from_the_profile(folder: Path, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[run]\nsplit_min_s = 60.0\nconcurrency = 4\nchannels = "split"\n')
    doc = estimate_json(None, "--profile", str(profile), "estimate", str(folder))
    assert (doc["sessions"], doc["pieces"]) == (4, 5)  # the call per channel, long.wav in 2
