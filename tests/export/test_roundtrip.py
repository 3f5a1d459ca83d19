"""Transcripts come back exactly from every format: stored through the real store, exported,
read back with ordinary parsers (``json``, ``csv``, a plain SRT/WebVTT reader)."""

from __future__ import annotations

import csv
import html
import itertools
import json
from pathlib import Path

from exportkit import add_succeeded, turn_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobrunner.export import export
from jobrunner.store import Store

#: any character UTF-8 can carry (but NUL, which PostgreSQL cannot store in text), plus the
#: ones that break naive CSV/JSONL writers
TEXT_CHARS = st.one_of(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    st.sampled_from([" ", ",", '"', "'", "\n", "\r", "\t", ";", "=", "\u2028", "\x85"]),
)
TURN_TEXT = st.text(TEXT_CHARS, max_size=30)
TURNS = st.lists(TURN_TEXT, min_size=0, max_size=5)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_ids = itertools.count()


def _label() -> str:
    return f"case-{next(_ids)}"


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [json.loads(line) for line in f]


def read_csv(path: Path, *, bom: bool = False) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_jsonl_round_trips_any_text(store: Store, tmp_path: Path) -> None:
    @EXAMPLES
    @given(texts=TURNS)
    def check(texts: list[str]) -> None:
        label = _label()
        add_succeeded(store, f"/audio/{label}.wav", texts, label=label)
        by_file, by_turn = tmp_path / "file.jsonl", tmp_path / "turn.jsonl"
        export(store, "jsonl", "file", label=label, out=by_file)
        export(store, "jsonl", "turn", label=label, out=by_turn)
        [job] = read_jsonl(by_file)
        assert job["transcript"] == "".join(texts)
        assert [t["transcript"] for t in job["turns"]] == texts  # type: ignore[attr-defined]
        assert [t["index"] for t in job["turns"]] == list(range(len(texts)))  # type: ignore[attr-defined]
        turns = read_jsonl(by_turn)
        assert [t["transcript"] for t in turns] == texts
        assert {t["job_id"] for t in turns} <= {job["job_id"]}
        assert len(by_file.read_text(encoding="utf-8").splitlines()) == 1  # one object per line

    check()


def test_csv_round_trips_any_text(store: Store, tmp_path: Path) -> None:
    @EXAMPLES
    @given(texts=TURNS, bom=st.booleans())
    def check(texts: list[str], bom: bool) -> None:
        label = _label()
        job_id = add_succeeded(store, f'/audio/{label}, "x".wav', texts, label=label)
        by_file, by_turn = tmp_path / "file.csv", tmp_path / "turn.csv"
        export(store, "csv", "file", label=label, out=by_file, bom=bom)
        export(store, "csv", "turn", label=label, out=by_turn, bom=bom)
        assert by_file.read_bytes().startswith(b"\xef\xbb\xbf") == bom
        [row] = read_csv(by_file, bom=bom)
        assert row["transcript"] == "".join(texts)
        assert row["path"] == f'/audio/{label}, "x".wav'
        assert (row["job_id"], row["turn_count"]) == (str(job_id), str(len(texts)))
        turns = read_csv(by_turn, bom=bom)
        assert [t["transcript"] for t in turns] == texts
        assert [int(t["turn_index"]) for t in turns] == list(range(len(texts)))

    check()


def test_csv_quotes_text_and_leaves_numbers_bare(store: Store, tmp_path: Path) -> None:
    """Spreadsheets trim unquoted fields; quoting keeps a turn's leading space."""
    add_succeeded(store, "/audio/a.wav", ["Hello.", " How are you?"])
    out = tmp_path / "turns.csv"
    export(store, "csv", "turn", out=out)
    lines = out.read_bytes().split(b"\r\n")
    assert lines[0].startswith(b'"job_id","path",')
    assert lines[2].startswith(b'1,"/audio/a.wav",')
    # no speech map, no words (Auto); the speaker is the channel's number without labels
    assert lines[2].endswith(b'," How are you?","turn.end","","","","","","","0"')
    assert lines[3] == b""  # CRLF after the last row, nothing else


def parse_cues(text: str, *, vtt: bool) -> list[tuple[str, str, str]]:
    """(start, end, text) of each cue of an SRT or WebVTT document."""
    blocks = text.split("\n\n")
    if vtt:
        assert blocks.pop(0) == "WEBVTT"
    assert blocks.pop() == ""  # the document ends with a blank line
    cues = []
    for n, block in enumerate(blocks, 1):
        lines = block.split("\n")
        if not vtt:
            assert lines.pop(0) == str(n)
        start, arrow, end = lines[0].partition(" --> ")
        assert arrow
        body = "\n".join(lines[1:])
        cues.append((start, end, html.unescape(body) if vtt else body))
    return cues


SUBTITLE_TEXTS = [
    "Hello, world.",
    " Ça va? «Très» bien — 東京 😀",
    ' He said "no", then <b>left</b> & came back --> later.',
    "  ",  # a turn with no words: no cue
    " Line one\n\nline two ",
    " Last one.",
]


def test_subtitles_carry_every_spoken_turn(store: Store, tmp_path: Path) -> None:
    turns = turn_rows(SUBTITLE_TEXTS, start=0.4, gap=2.0)
    add_succeeded(store, "/audio/talk.wav", SUBTITLE_TEXTS, turns=turns)
    export(store, "srt", out=tmp_path / "srt")
    export(store, "vtt", out=tmp_path / "vtt")
    expected = [
        ("Hello, world.", 0.4, 1.9),
        ("Ça va? «Très» bien — 東京 😀", 2.4, 3.9),
        ('He said "no", then <b>left</b> & came back --> later.', 4.4, 5.9),
        ("Line one\nline two", 8.4, 9.9),
        ("Last one.", 10.4, 11.9),
    ]
    for fmt, sep in (("srt", ","), ("vtt", ".")):
        document = (tmp_path / fmt / f"talk.{fmt}").read_text(encoding="utf-8")
        cues = parse_cues(document, vtt=fmt == "vtt")
        assert [c[2] for c in cues] == [e[0] for e in expected]
        assert [(c[0], c[1]) for c in cues] == [
            (_stamp(start, sep), _stamp(end, sep)) for _, start, end in expected
        ]
    vtt_text = (tmp_path / "vtt" / "talk.vtt").read_text(encoding="utf-8")
    assert "&lt;b&gt;left&lt;/b&gt; &amp; came back --&gt; later." in vtt_text


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return (
        f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"
    )


def test_short_cues_are_stretched_but_not_into_the_next(store: Store, tmp_path: Path) -> None:
    """Turns whose start and end arrived in one chunk (after the last chunk was sent)."""
    rows = turn_rows(["One.", " Two.", " Three."])
    rows[1] = rows[1].__class__(index=1, transcript=" Two.", start_audio_s=9.5, end_audio_s=9.5)
    rows[2] = rows[2].__class__(index=2, transcript=" Three.", start_audio_s=9.8, end_audio_s=9.8)
    add_succeeded(store, "/audio/end.wav", ["One.", " Two.", " Three."], turns=rows)
    export(store, "srt", out=tmp_path / "srt")
    cues = parse_cues((tmp_path / "srt" / "end.srt").read_text(encoding="utf-8"), vtt=False)
    assert [(c[0], c[1]) for c in cues] == [
        ("00:00:00,400", "00:00:01,900"),
        ("00:00:09,500", "00:00:09,800"),
        ("00:00:09,800", "00:00:10,800"),
    ]


def test_txt_is_the_verbatim_transcript(store: Store, tmp_path: Path) -> None:
    texts = ["  Leading spaces,", ' "quotes"\tand tabs', "\nnew lines\r\n", " 東京 😀"]
    add_succeeded(store, "/audio/a.wav", texts)
    add_succeeded(store, "/audio/silence.wav", [])
    export(store, "txt", out=tmp_path / "txt")
    raw = (tmp_path / "txt" / "a.txt").read_bytes().decode("utf-8")
    assert raw == "".join(texts) + "\n"
    assert (tmp_path / "txt" / "silence.txt").read_bytes() == b"\n"
