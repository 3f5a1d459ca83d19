"""``jobrunner speech FILE``: the speech map as a person and a script read it."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import invoke

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"


def test_speech_prints_segments_near_the_true_ones() -> None:
    truth = json.loads((SPEECH / "segments.json").read_text())["short_turns.wav"]
    result = invoke(None, "speech", "--json", str(SPEECH / "short_turns.wav"))
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["channels"][0]
    assert len(found) == len(truth)
    for (start, end), (true_start, true_end) in zip(found, truth, strict=True):
        assert abs(start - true_start) <= 0.1 and abs(end - true_end) <= 0.1


def test_speech_in_text_names_the_file_and_each_segment() -> None:
    result = invoke(None, "speech", str(SPEECH / "two_sent_1p5s.wav"))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{SPEECH / 'two_sent_1p5s.wav'}: 8.1")
    assert lines[1].startswith("channel 0: 2 segments")
    assert len(lines) == 4


def test_a_file_that_is_not_audio_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all\n")
    result = invoke(None, "speech", str(bad))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"jobrunner: error: {bad}: not an audio file (looks like text)"
    ]
