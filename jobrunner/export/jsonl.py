"""JSON Lines: one object per job (``--by file``) or per turn (``--by turn``).

Keys follow :mod:`jobrunner.export.fields`. Text is written as UTF-8, not ``\\u`` escapes,
except U+0085, U+2028 and U+2029: JSON allows them raw, but line splitters such as Python's
``str.splitlines`` treat them as line breaks, so they are escaped to keep one object per line.

Per-job members go through ``json`` itself. Turns are the bulk of an export, so a turn's
members are rendered by an f-string, strings by ``json``'s own C string encoder: the text is
the same as ``json.dumps`` of the turn's values from :mod:`~jobrunner.export.fields` (a
property test holds it to that) at a fraction of the cost.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from jobrunner.export.dialogue import (
    Labels,
    channel_transcripts,
    end_of,
    label,
    ordered,
    start_of,
)
from jobrunner.export.fields import FILE_FIELDS, JOB_KEY_LENGTH, TURN_FIELDS, file_row, job_key
from jobrunner.store import ExportJob, TurnView

_encode = json.JSONEncoder(ensure_ascii=False).encode
_string = json.encoder.encode_basestring  # what the encoder above uses for str
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def one_line(text: str) -> str:
    """Escape the characters that line splitters take for line breaks (only inside strings)."""
    if not text.isascii():
        for char, escape in _LINE_BREAKS.items():
            if char in text:
                text = text.replace(char, escape)
    return text


def dumps(obj: dict[str, Any]) -> str:
    """One JSONL line (without the newline)."""
    return one_line(_encode(obj))


def _s(seconds: float | None) -> str:
    """A timing as JSON, rounded as :func:`jobrunner.export.fields.timings` rounds it."""
    return "null" if seconds is None else repr(round(seconds * 1000) / 1000)


def _timings(t: TurnView) -> str:
    return (
        f'"start_s": {_s(t.start_audio_s)}, "end_s": {_s(t.end_audio_s)}, '
        f'"first_update_s": {_s(t.first_update_audio_s)}, '
        f'"eager_end_s": {_s(t.eager_end_audio_s)}, "updates": {t.updates}, '
        f'"eager_ends": {t.eager_ends}, "resumes": {t.resumes}, '
        f'"start_wall_s": {_s(t.start_wall_s)}, "end_wall_s": {_s(t.end_wall_s)}'
    )


def _speech(t: TurnView) -> str:
    return (
        f'"speech_start_s": {_s(t.speech_start_s)}, "speech_end_s": {_s(t.speech_end_s)}, '
        f'"end_latency_s": {_s(t.end_latency_s)}, "start_latency_s": {_s(t.start_latency_s)}, '
        f'"eager_latency_s": {_s(t.eager_latency_s)}'
    )


def _words(t: TurnView) -> str:
    return "null" if t.words is None else _encode(t.words)


def nested_turn_json(t: TurnView) -> str:
    """A turn in a by-file object's ``turns`` (``NESTED_TURN_FIELDS``)."""
    return (
        f'{{"index": {t.index}, "channel": {t.channel}, "transcript": {_string(t.transcript)}, '
        f'{_timings(t)}, "ended_by": {_string(t.ended_by)}, {_speech(t)}, '
        f'"words": {_words(t)}}}'
    )


def turn_tail_json(t: TurnView, labels: Labels = ()) -> str:
    """A by-turn object's members after the job's (``TURN_FIELDS[JOB_KEY_LENGTH:]``), and
    the closing brace."""
    return (
        f'"turn_index": {t.index}, "channel": {t.channel}, {_timings(t)}, '
        f'"transcript": {_string(t.transcript)}, "ended_by": {_string(t.ended_by)}, '
        f'{_speech(t)}, "words": {_words(t)}, "speaker": {_string(label(t.channel, labels))}}}'
    )


def dialogue_json(turns: Sequence[TurnView], labels: Labels = ()) -> str:
    """A by-file object's ``dialogue`` members (and ``channel_transcripts`` when the job has
    more than one channel), after ``turns``; see :mod:`jobrunner.export.dialogue`."""
    names = {ch: _string(label(ch, labels)) for ch in {t.channel for t in turns}}
    lines = [
        f'{{"channel": {t.channel}, "label": {names[t.channel]}, '
        f'"start_s": {_s(start_of(t))}, "end_s": {_s(end_of(t))}, '
        f'"transcript": {_string(t.transcript)}}}'
        for t in ordered(turns)
    ]
    text = f'"dialogue": [{", ".join(lines)}]'
    if len(names) > 1:
        text += f', "channel_transcripts": {_encode(channel_transcripts(turns, labels))}'
    return text


def write_jsonl(
    jobs: Iterable[ExportJob], by: str, out: TextIO, labels: Labels = ()
) -> tuple[int, int]:
    """Write ``jobs`` to ``out``; returns (jobs read, turns written). ``labels`` name the
    channels (``speaker``, and the dialogue's ``label``)."""
    n_jobs = n_turns = 0
    write = out.write
    key_fields = TURN_FIELDS[:JOB_KEY_LENGTH]
    for e in jobs:
        n_jobs += 1
        n_turns += len(e.turns)
        if by == "file":
            head = _encode(dict(zip(FILE_FIELDS, file_row(e), strict=True)))[:-1]
            turns = ", ".join([nested_turn_json(t) for t in e.turns])
            tail = dialogue_json(e.turns, labels)
            write(one_line(f'{head}, "turns": [{turns}], {tail}}}') + "\n")
        elif e.turns:
            # the job's members are encoded once and put in front of each turn's
            head = _encode(dict(zip(key_fields, job_key(e), strict=True)))[:-1] + ", "
            tails = [turn_tail_json(t, labels) for t in e.turns]
            write(one_line(head + ("\n" + head).join(tails)) + "\n")
    return n_jobs, n_turns
