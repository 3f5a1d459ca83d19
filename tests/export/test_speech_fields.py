"""The speech map's fields in every export, and subtitles timed by the speech (or the events)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from exportkit import add_queued, add_succeeded
from helpers import invoke

from jobrunner.export import export
from jobrunner.export.fields import SPEECH_FIELDS, TIMING_FIELDS
from jobrunner.export.subtitles import cues, srt, vtt
from jobrunner.store import Store, TurnRow

TURNS = [
    # aligned: the words are at 0.5-1.8 s; the events came at 0.9 and 2.6 s
    TurnRow(0, "Hello.", start_audio_s=0.9, end_audio_s=2.6, speech_start_s=0.5,
            speech_end_s=1.8, start_latency_s=0.4, end_latency_s=0.8),
    # the map placed its start only (two turns inside one segment)
    TurnRow(1, " Fine.", start_audio_s=3.0, end_audio_s=6.0, speech_start_s=2.9),
    # no map at all for this one
    TurnRow(2, " Bye.", start_audio_s=6.5, end_audio_s=8.0),
]  # fmt: skip


def test_every_document_format_carries_the_speech_fields_last(store: Store, tmp_path: Path) -> None:
    add_succeeded(store, "/audio/a.wav", [t.transcript for t in TURNS], turns=TURNS)
    add_queued(store, "/audio/b.wav")
    by_file = tmp_path / "a.jsonl"
    export(store, "jsonl", out=by_file)
    first, queued = map(json.loads, by_file.read_text("utf-8").splitlines())
    # the speech fields close the turn's fields of issue 10; words (issue 14) came after them
    assert list(first["turns"][0])[-len(SPEECH_FIELDS) - 1 :] == [*SPEECH_FIELDS, "words"]
    assert first["turns"][0]["speech_start_s"] == 0.5 and first["turns"][0]["end_latency_s"] == 0.8
    assert first["turns"][2]["speech_end_s"] is None
    assert (first["coverage"], queued["coverage"], queued["uncovered_s"]) == (None, None, None)

    export(store, "csv", by="turn", out=tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header[-len(SPEECH_FIELDS) - 4 :] == [
        "transcript",
        "ended_by",
        *SPEECH_FIELDS,
        "words",
        "speaker",
    ]
    assert header.index("start_s") == header.index("channel") + 1
    assert header[header.index("start_s") : header.index("transcript")] == list(TIMING_FIELDS)
    assert [r["speech_start_s"] for r in rows] == ["0.5", "2.9", ""]
    assert [r["end_latency_s"] for r in rows] == ["0.8", "", ""]


def test_subtitles_follow_the_speech_and_fall_back_to_the_events(store: Store) -> None:
    add_succeeded(store, "/audio/a.wav", [t.transcript for t in TURNS], turns=TURNS)
    [job] = store.iter_export()
    assert "".join(srt(job)) == (
        "1\n00:00:00,500 --> 00:00:01,800\nHello.\n\n"
        # the map placed its start only: the end is the event's
        "2\n00:00:02,900 --> 00:00:06,000\nFine.\n\n"
        "3\n00:00:06,500 --> 00:00:08,000\nBye.\n\n"
    )
    assert "".join(vtt(job, "event")).startswith(
        "WEBVTT\n\n00:00:00.900 --> 00:00:02.600\nHello.\n\n00:00:03.000 --> 00:00:06.000\n"
    )


def test_a_fallback_end_never_covers_the_next_words(store: Store) -> None:
    turns = [
        TurnRow(0, "One.", start_audio_s=0.9, end_audio_s=3.4, speech_start_s=0.5),
        TurnRow(1, " Two.", start_audio_s=3.6, end_audio_s=5.0, speech_start_s=3.1,
                speech_end_s=4.4),
    ]  # fmt: skip
    add_succeeded(store, "/audio/a.wav", ["One.", " Two."], turns=turns)
    [job] = store.iter_export()
    assert [(c.start_s, c.end_s) for c in cues(job)] == [(0.5, 3.1), (3.1, 4.4)]
    assert [(c.start_s, c.end_s) for c in cues(job, "event")] == [(0.9, 3.4), (3.6, 5.0)]


def test_export_times_flag_is_for_subtitles(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with Store.open(f"sqlite:///{db}") as store:
        add_succeeded(store, "/audio/a.wav", [t.transcript for t in TURNS], turns=TURNS)
    out = tmp_path / "subs"
    done = invoke(db, "export", "--format", "srt", "--times", "event", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert "00:00:00,900 --> 00:00:02,600" in (out / "a.srt").read_text()
    refused = invoke(db, "export", "--format", "csv", "--times", "event")
    assert refused.exit_code == 2 and "--times is for --format srt and vtt" in refused.output
