"""A stereo call transcribed per channel, exported as a dialogue in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from exportkit import add_succeeded
from helpers import invoke

from jobrunner.export import export
from jobrunner.store import Store, TurnRow

CALL = [
    # the agent (channel 0): speech at 0.5 and 6.0 s; the second turn has no map placement
    TurnRow(0, "Hello, how can I help?", channel=0, start_audio_s=0.9, end_audio_s=3.0,
            speech_start_s=0.5, speech_end_s=2.2),
    TurnRow(1, " Sure, one moment.", channel=0, start_audio_s=6.3, end_audio_s=8.5),
    # the caller (channel 1): speech at 3.1 s
    TurnRow(0, "I lost my card.", channel=1, start_audio_s=3.4, end_audio_s=5.6,
            speech_start_s=3.1, speech_end_s=4.4),
]  # fmt: skip
ORDER = ["Hello, how can I help?", "I lost my card.", " Sure, one moment."]


def add_call(store: Store) -> None:
    add_succeeded(store, "/calls/call.wav", [t.transcript for t in CALL], turns=CALL)


def test_jsonl_has_the_dialogue_in_speech_order_and_each_channels_transcript(
    store: Store, tmp_path: Path
) -> None:
    add_call(store)
    add_succeeded(store, "/calls/mono.wav", ["One.", " Two."])
    out = tmp_path / "calls.jsonl"
    export(store, "jsonl", out=out, channel_labels=["agent", "caller"])
    call, mono = map(json.loads, out.read_text("utf-8").splitlines())
    assert [d["transcript"] for d in call["dialogue"]] == ORDER
    assert [(d["channel"], d["label"]) for d in call["dialogue"]] == [
        (0, "agent"),
        (1, "caller"),
        (0, "agent"),
    ]
    # speech times where the map placed the turn, the events' where it did not
    assert [(d["start_s"], d["end_s"]) for d in call["dialogue"]] == [
        (0.5, 2.2),
        (3.1, 4.4),
        (6.3, 8.5),
    ]
    assert call["channel_transcripts"] == [
        {"channel": 0, "label": "agent", "transcript": "Hello, how can I help? Sure, one moment."},
        {"channel": 1, "label": "caller", "transcript": "I lost my card."},
    ]
    assert [t["channel"] for t in call["turns"]] == [0, 0, 1]  # turns as before
    # one channel: the dialogue is its turns, and there are no per-channel transcripts
    assert [d["transcript"] for d in mono["dialogue"]] == ["One.", " Two."]
    assert {d["label"] for d in mono["dialogue"]} == {"agent"}
    assert "channel_transcripts" not in mono


def test_per_turn_csv_names_the_speaker(store: Store, tmp_path: Path) -> None:
    add_call(store)
    for labels, speakers in (
        ((), ["0", "0", "1"]),
        (("agent", "caller"), ["agent"] * 2 + ["caller"]),
    ):
        out = tmp_path / "turns.csv"
        export(store, "csv", "turn", out=out, channel_labels=labels)
        rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"), newline="")))
        assert [r["speaker"] for r in rows] == speakers
        assert [r["channel"] for r in rows] == ["0", "0", "1"]


def test_subtitles_prefix_the_speaker_of_a_multichannel_job(store: Store, tmp_path: Path) -> None:
    add_call(store)
    add_succeeded(store, "/calls/mono.wav", ["One."])
    export(store, "srt", out=tmp_path / "numbers")
    assert (tmp_path / "numbers" / "call.srt").read_text("utf-8") == (
        "1\n00:00:00,500 --> 00:00:02,200\n0: Hello, how can I help?\n\n"
        "2\n00:00:03,100 --> 00:00:04,400\n1: I lost my card.\n\n"
        "3\n00:00:06,300 --> 00:00:08,500\n0: Sure, one moment.\n\n"
    )
    # a single channel without labels: cues exactly as before
    assert (tmp_path / "numbers" / "mono.srt").read_text("utf-8") == (
        "1\n00:00:00,400 --> 00:00:01,900\nOne.\n\n"
    )
    export(store, "vtt", out=tmp_path / "named", channel_labels=["agent", "caller"])
    named = (tmp_path / "named" / "call.vtt").read_text("utf-8")
    assert "\nagent: Hello, how can I help?\n" in named and "\ncaller: I lost my card.\n" in named
    assert "\nagent: One.\n" in (tmp_path / "named" / "mono.vtt").read_text("utf-8")


def test_channel_labels_flag_and_setting(store_url: str, tmp_path: Path) -> None:
    with Store.open(store_url) as store:
        add_call(store)
    flag = invoke(store_url, "export", "--by", "turn", "--channel-labels", "agent,caller")
    assert flag.exit_code == 0, flag.output
    speakers = [json.loads(line)["speaker"] for line in flag.stdout.splitlines()]
    assert speakers == ["agent", "agent", "caller"]
    profile = tmp_path / "labels.toml"
    profile.write_text('[export]\nchannel_labels = ["rep", "customer"]\n')
    setting = invoke(store_url, "--profile", str(profile), "export", "--by", "turn")
    assert [json.loads(line)["speaker"] for line in setting.stdout.splitlines()][-1] == "customer"
