"""CSV by file or by turn, columns in the order of :mod:`jobrunner.export.fields`.

RFC 4180 with a header row and CRLF line ends. Every text field is quoted and numbers are not,
as Python's ``csv.writer`` does with ``QUOTE_NONNUMERIC``: a transcript with commas, quotes,
line breaks or leading spaces reads back exactly with Python's ``csv`` module (open the file
with ``newline=""``), and spreadsheets keep the leading spaces because they trim only unquoted
fields. An empty field means "none" (no transcript yet, no label). A turn's ``words`` is
one field holding their JSON. ``--bom`` starts the file
with a UTF-8 byte order mark so Excel does not read it as the legacy code page.

Text is written verbatim, never altered for spreadsheets: a transcript starting with ``=`` or
``+`` may be taken for a formula by a spreadsheet that opens the file directly; import it as
text (Excel: Data > From Text/CSV; LibreOffice: "Format quoted field as text") to see it as is.

Rows are rendered here rather than by ``csv.writer``: with only strings, ints, floats and None
in them the rule is short (quote strings doubling their quotes, ``repr`` numbers, ``""`` for
None) and the output is the same text ``csv.writer`` makes (property tests hold both renderers
to it); turn rows, the bulk of an export, use an f-string at a fraction of the cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from jobrunner.export.dialogue import Labels, label
from jobrunner.export.fields import FILE_FIELDS, TURN_FIELDS, file_row, job_key
from jobrunner.store import ExportJob, TurnView

LINE_END = "\r\n"


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def fields(row: tuple[Any, ...]) -> list[str]:
    """Each value as a CSV field (str/int/float/None only)."""
    return ['""' if v is None else _q(v) if v.__class__ is str else repr(v) for v in row]


def line(row: tuple[Any, ...]) -> str:
    """One CSV record with its line end."""
    return ",".join(fields(row)) + LINE_END


def _s(seconds: float | None) -> str:
    """A timing as a field, rounded as :func:`jobrunner.export.fields.timings` rounds it."""
    return '""' if seconds is None else repr(round(seconds * 1000) / 1000)


def turn_tail(t: TurnView, labels: Labels = ()) -> str:
    """A by-turn row's fields after the job's (``TURN_FIELDS[JOB_KEY_LENGTH:]``), and the line
    end."""
    return (
        f"{t.index},{t.channel},{_s(t.start_audio_s)},{_s(t.end_audio_s)},"
        f"{_s(t.first_update_audio_s)},{_s(t.eager_end_audio_s)},"
        f"{t.updates},{t.eager_ends},{t.resumes},{_s(t.start_wall_s)},{_s(t.end_wall_s)},"
        f"{_q(t.transcript)},{_q(t.ended_by)},{_s(t.speech_start_s)},{_s(t.speech_end_s)},"
        f"{_s(t.end_latency_s)},{_s(t.start_latency_s)},{_s(t.eager_latency_s)},"
        f"{words_field(t.words)},{_q(label(t.channel, labels))}{LINE_END}"
    )


def words_field(words: list[dict[str, Any]] | None) -> str:
    """A turn's words as a CSV field: their JSON, quoted (empty: none)."""
    return '""' if words is None else _q(json.dumps(words, ensure_ascii=False))


def write_csv(
    jobs: Iterable[ExportJob], by: str, out: TextIO, labels: Labels = ()
) -> tuple[int, int]:
    """Write a header and ``jobs`` to ``out`` (opened with ``newline=""``); returns
    (jobs read, turns written). ``labels`` name the channels in the ``speaker`` column."""
    write = out.write
    write(line(FILE_FIELDS if by == "file" else TURN_FIELDS))
    n_jobs = n_turns = 0
    for e in jobs:
        n_jobs += 1
        n_turns += len(e.turns)
        if by == "file":
            write(line(file_row(e)))
        elif e.turns:
            head = ",".join(fields(job_key(e))) + ","  # the job's fields, once per job
            write(head + head.join([turn_tail(t, labels) for t in e.turns]))
    return n_jobs, n_turns
