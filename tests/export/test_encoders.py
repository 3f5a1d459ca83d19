"""The fast renderers write exactly what ``json`` and ``csv`` would write for the canonical
values of :mod:`jobrunner.export.fields`."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jobrunner.export import csv as export_csv
from jobrunner.export import jsonl
from jobrunner.export.dialogue import channel_transcripts, dialogue, multichannel
from jobrunner.export.fields import (
    JOB_KEY_LENGTH,
    NESTED_TURN_FIELDS,
    TURN_FIELDS,
    nested_turn,
    turn_part,
)
from jobrunner.store import TurnView

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
INT = st.integers(min_value=0, max_value=2**31)
SECONDS = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1e7),
    st.integers(0, 10**6).map(lambda n: n * 0.1),  # what the audio clock produces
)
LATENCY = st.one_of(st.none(), st.floats(min_value=-1e3, max_value=1e7))  # the eager one: < 0
TURN = st.builds(
    TurnView,
    index=INT,
    channel=INT,
    transcript=TEXT,
    start_audio_s=SECONDS,
    first_update_audio_s=SECONDS,
    eager_end_audio_s=SECONDS,
    end_audio_s=SECONDS,
    updates=INT,
    eager_ends=INT,
    resumes=INT,
    start_wall_s=SECONDS,
    end_wall_s=SECONDS,
    ended_by=st.sampled_from(["turn.end", "close", "flush_done", "done", "batch"]),
    speech_start_s=SECONDS,
    speech_end_s=SECONDS,
    start_latency_s=LATENCY,
    end_latency_s=LATENCY,
    eager_latency_s=LATENCY,
    words=st.one_of(
        st.none(),
        st.lists(st.fixed_dictionaries({"word": TEXT, "start": SECONDS, "end": SECONDS})),
    ),
)
LABELS = st.lists(TEXT, max_size=3).map(tuple)
VALUE = st.one_of(st.none(), TEXT, st.integers(), st.floats(allow_nan=False, allow_infinity=False))


def csv_writer_line(row: list[Any] | tuple[Any, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()


@given(st.lists(VALUE, min_size=1, max_size=20))
def test_csv_rows_are_what_csv_writer_writes(row: list[Any]) -> None:
    assert export_csv.line(tuple(row)) == csv_writer_line(row)
    [back] = csv.reader(io.StringIO(csv_writer_line(row), newline=""))
    assert back == ["" if v is None else str(v) for v in row]


@given(TURN, LABELS)
def test_csv_turn_rows_are_what_csv_writer_writes(turn: TurnView, labels: tuple[str, ...]) -> None:
    *part, words, speaker = turn_part(turn, labels)  # words: one field holding their JSON
    as_json = None if words is None else json.dumps(words, ensure_ascii=False)
    assert export_csv.turn_tail(turn, labels) == csv_writer_line([*part, as_json, speaker])


@given(TURN)
def test_nested_turn_json_is_what_json_dumps_writes(turn: TurnView) -> None:
    obj = dict(zip(NESTED_TURN_FIELDS, nested_turn(turn), strict=True))
    assert jsonl.nested_turn_json(turn) == json.dumps(obj, ensure_ascii=False)


@given(TURN, st.lists(VALUE, min_size=JOB_KEY_LENGTH, max_size=JOB_KEY_LENGTH), LABELS)
def test_by_turn_json_is_what_json_dumps_writes(
    turn: TurnView, key: list[Any], labels: tuple[str, ...]
) -> None:
    obj = dict(zip(TURN_FIELDS, (*key, *turn_part(turn, labels)), strict=True))
    head = json.dumps(dict(zip(TURN_FIELDS, key, strict=False)), ensure_ascii=False)[:-1]
    line = head + ", " + jsonl.turn_tail_json(turn, labels)
    assert line == json.dumps(obj, ensure_ascii=False)
    assert json.loads(jsonl.one_line(line)) == obj


@given(st.lists(TURN, max_size=4), LABELS)
def test_dialogue_json_is_what_json_dumps_writes(
    turns: list[TurnView], labels: tuple[str, ...]
) -> None:
    members = {"dialogue": dialogue(turns, labels)}
    if multichannel(turns):
        members["channel_transcripts"] = channel_transcripts(turns, labels)
    expected = json.dumps(members, ensure_ascii=False)[1:-1]
    assert jsonl.dialogue_json(turns, labels) == expected
