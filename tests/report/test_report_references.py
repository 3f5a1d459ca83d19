"""References as users give them: sidecars, TSV, JSONL; and every way they can be wrong, each a
one-line answer naming the file and the line (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BROKEN, ToneRun, make_tone_run
from helpers import invoke

from jobrunner.errors import UsageError
from jobrunner.report.references import load_file, parse_jsonl, parse_tsv


def _report_json(db_url: str, *args: str) -> tuple[dict[str, Any], str]:
    result = invoke(db_url, "report", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data, result.stderr


def _one_line_error(db_url: str, *args: str) -> str:
    result = invoke(db_url, "report", "-o", "unused.html", *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("jobrunner: error: ") and "Traceback" not in result.output
    return line


def test_tsv_and_jsonl_read_paths_texts_and_turns(tmp_path: Path) -> None:
    tsv = parse_tsv("path\ttext\n# a comment\n\na.wav\tHello there. | Bye.\nb.wav\t\n", "r.tsv")
    assert [(r.path, r.turns, r.line) for r in tsv] == [
        ("a.wav", ("Hello there.", "Bye."), 4),
        ("b.wav", ("",), 5),
    ]
    lines = [
        '{"path": "a.wav", "text": "Hi. | Bye."}',
        "",
        '{"path": "b.wav", "turns": ["x", "y"]}',
    ]
    jsonl = parse_jsonl("\n".join(lines), "r.jsonl")
    assert [(r.path, r.turns, r.line) for r in jsonl] == [
        ("a.wav", ("Hi.", "Bye."), 1),
        ("b.wav", ("x", "y"), 3),
    ]
    unknown_suffix = tmp_path / "refs.data"
    unknown_suffix.write_text('{"path": "a.wav", "text": "Hi."}\n', encoding="utf-8")
    assert [r.path for r in load_file(unknown_suffix)] == ["a.wav"]


NO_TAB = "expected PATH<TAB>TEXT, found no tab"
NOT_AN_OBJECT = 'expected {"path": "...", "text": "..."}'


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("refs.tsv", b"a.wav\tHello\nb.wav Hello\n", f"refs.tsv:2: {NO_TAB}"),
        ("refs.tsv", b"a.wav\tHello\n\tHello\n", "refs.tsv:2: the path before the tab is empty"),
        (
            "refs.tsv",
            b"a.wav\tHi\nb.wav\tOk\n\na.wav\tAgain\n",
            "refs.tsv:4: 'a.wav' already has a reference on line 1",
        ),
        ("refs.tsv", b"a.wav\tHi\nb.wav\tcaf\xe9\n", "refs.tsv:2: not UTF-8 text"),
        (
            "refs.jsonl",
            b'{"path": "a.wav", "text": "Hi"}\n{"path": "b.wav",\n',
            "refs.jsonl:2: not JSON",
        ),
        ("refs.jsonl", b'{"path": "a.wav"}\n', f"refs.jsonl:1: {NOT_AN_OBJECT}"),
        ("refs.jsonl", b'["a.wav", "Hi"]\n', f"refs.jsonl:1: {NOT_AN_OBJECT}"),
    ],
)
def test_a_malformed_references_file_is_named_with_its_line(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")


def test_missing_unreadable_and_malformed_references_end_the_command_cleanly(
    tone_run: ToneRun, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.tsv"
    assert _one_line_error(tone_run.db_url, "--references", str(missing)).endswith(
        f"references file not found: {missing}"
    )
    assert "is a folder" in _one_line_error(tone_run.db_url, "--references", str(tmp_path))
    bad = tmp_path / "bad.tsv"
    bad.write_text("booking.wav\tHi\nweather.wav: What is the weather?\n", encoding="utf-8")
    line = _one_line_error(tone_run.db_url, "--references", str(bad))
    assert line.endswith(f"{bad}:2: expected PATH<TAB>TEXT, found no tab")
    assert not (Path.cwd() / "unused.html").exists()


def test_unmatched_references_and_files_without_one_are_both_listed(
    tone_run: ToneRun, tmp_path: Path
) -> None:
    turns = tone_run.turns
    refs = tmp_path / "refs.tsv"
    lines = [
        f"{tone_run.audio / 'booking.wav'}\t{' | '.join(t.strip() for t in turns['booking.wav'])}",
        "weather.wav\tWhat is the weather? | Should I bring an overcoat?",  # bare name: matched
        "elsewhere/unknown.wav\tNobody queued this.",
    ]
    refs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data, stderr = _report_json(tone_run.db_url, "--references", str(refs))
    acc = data["accuracy"]
    assert acc["unmatched_references"] == ["elsewhere/unknown.wav"]
    names = sorted(Path(p).name for p in acc["without_reference"])
    assert names == sorted([BROKEN, "internet.wav", "short.wav"])
    by_name = {Path(f["path"]).name: f for f in acc["files"]}
    assert set(by_name) == {"booking.wav", "weather.wav"}
    assert by_name["booking.wav"]["wer"] == 0.0
    # "umbrella" heard where the reference says "overcoat": 1 substitution in 9 words
    assert by_name["weather.wav"]["substitutions"] == 1 and by_name["weather.wav"]["ref_words"] == 9
    assert acc["wer"] == pytest.approx(1 / (9 + by_name["booking.wav"]["ref_words"]))
    assert acc["turn_agreement"]["equal"] == 2
    assert "1 name no file in this report (e.g. elsewhere/unknown.wav)" in stderr
    assert "3 files have none" in stderr

    html = invoke(tone_run.db_url, "report", "-o", "-", "--references", str(refs)).stdout
    assert 'id="unmatched-references"' in html and "elsewhere/unknown.wav" in html
    assert 'id="without-reference"' in html and str(tone_run.audio / "short.wav") in html


def test_sidecar_texts_beside_the_audio_are_the_default(tmp_path: Path) -> None:
    run = make_tone_run(tmp_path)
    (run.audio / "short.txt").write_text("Yes.\n", encoding="utf-8")
    (run.audio / "weather.txt").write_text("What is the weather?", encoding="utf-8")
    data, _ = _report_json(run.db_url)
    acc = data["accuracy"]
    assert acc["source"].startswith("sidecar files")
    assert sorted(Path(f["path"]).name for f in acc["files"]) == ["short.wav", "weather.wav"]
    # weather.wav says two turns where its sidecar has one sentence: 5 insertions
    assert acc["insertions"] == 5 and acc["ref_words"] == 5
    assert acc["unmatched_references"] == []
