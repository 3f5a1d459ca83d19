"""The speech map's promise on real recognition: ``jobrunner run`` through the bundled server's
whisper engine exports turn speech times within 150 ms of the true segments
(``../shared/speech/segments.json``), at realtime pace as a user runs it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from helpers import invoke
from workerkit import exported

from jobrunner.config import load_settings
from jobrunner.enqueue import enqueue_paths
from jobrunner.run import run_queue
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.recognizer import get_recognizer
from jobrunner.store import Store

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"
TOLERANCE_S = 0.150
#: synthesized and read speech, one to three turns each
FILES = ("two_sent_1p5s.wav", "short_turns.wav", "real/librivox_0880.wav")

pytestmark = [
    pytest.mark.asr,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("faster_whisper") is None, reason="the asr extra is not installed"
    ),
    pytest.mark.skipif(not SPEECH.is_dir(), reason=f"shared speech samples not at {SPEECH}"),
]


def test_whisper_run_exports_speech_times_within_150_ms_of_the_truth(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    truth = json.loads((SPEECH / "segments.json").read_text())
    folder = tmp_path / "audio"
    folder.mkdir()
    names = {}
    for name in FILES:
        copy = folder / Path(name).name
        shutil.copyfile(SPEECH / name, copy)
        names[str(copy)] = name
    engine = get_recognizer("whisper")
    with LocalServer(ServerConfig(port=0, engine="whisper"), engine) as server:
        overrides = {"db_url": db_url, "base_url": server.url, "pace": 1.0, "concurrency": 3}
        settings = load_settings(profile="local", env={}, overrides=overrides)
        assert enqueue_paths(store, settings, [folder]).summary.new == len(FILES)
        summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.speech.aligned == len(FILES)
    starts = {path: [a for a, _ in truth[name]] for path, name in names.items()}
    ends = {path: [b for _, b in truth[name]] for path, name in names.items()}
    for path, job in exported(store).items():
        assert job.job.coverage == "covered", (path, job.job.uncovered_s)
        assert job.turns, path
        for turn in job.turns:
            assert turn.speech_start_s is not None and turn.speech_end_s is not None, turn
            # a turn starts where some true segment starts and ends where one ends (whisper
            # may put two sentences in one turn; their outer boundaries are still the truth)
            near_start = min(abs(turn.speech_start_s - s) for s in starts[path])
            near_end = min(abs(turn.speech_end_s - e) for e in ends[path])
            assert max(near_start, near_end) <= TOLERANCE_S, (names[path], turn)
    out = tmp_path / "turns.jsonl"
    assert invoke(db_url, "export", "--by", "turn", "-o", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    timed = [r for r in rows if r["end_latency_s"] is not None]
    assert timed, "every turn ended in the flush: no turn-detection latency measured"
    for row in timed:
        assert abs(row["end_s"] - row["speech_end_s"] - row["end_latency_s"]) < 1e-9
