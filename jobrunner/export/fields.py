"""The exported fields, named once, in their stable order (JSONL keys and CSV columns alike).

Fields are only ever added (at the end of a group), never renamed, removed or reordered, so
scripts and spreadsheets built on an export keep working.

Timings (the service sends no timestamps; see the README, "Timings"): ``start_s``, ``end_s``,
``first_update_s`` and ``eager_end_s`` are *audio seconds sent* when ``turn.start``,
``turn.end``, the first ``turn.update`` and the last ``turn.eager_end`` arrived: a client-side
audio clock, never earlier than the speech that caused the event. ``start_wall_s`` /
``end_wall_s`` are wall-clock seconds from the session start. They are rounded to the
millisecond (the audio clock moves in chunks of ~100 ms anyway); nothing is "corrected".

``ended_by`` is ``turn.end``, or ``close`` for a turn that the server's normal close cut off
while it held text: its transcript is its last cumulative update, not a final text. On the
Manual endpoint it is ``flush_done`` (the turn of one ``finalize``) or ``done`` (the finals
after the close); on Batch, ``batch``.

``endpoint`` (per job: ``auto``, ``manual`` or ``batch``) says which endpoint made the
transcript; ``words`` (per turn) is the turn's ``[{"word", "start", "end"}, ...]`` as Manual
and Batch give them (null for Auto). CSV carries ``words`` as a JSON string.

Speech fields (:data:`SPEECH_FIELDS`, from the speech map, :mod:`jobrunner.timing.align`):
``speech_start_s``/``speech_end_s`` are where the turn's speech really starts and ends in the
file, and the latencies are event time minus speech time on the same audio clock
(``end_latency_s = end_s - speech_end_s``: the exported fields give the same number, to the
millisecond); null where no map was computed or the map cannot place the turn. The job's
``coverage`` (``covered``/``uncovered``, null without a map) and ``uncovered_s`` are the
coverage check's verdict (:mod:`jobrunner.timing.coverage`).

``speaker`` (per turn) is the channel's label (:mod:`jobrunner.export.dialogue`): the name
given with ``--channel-labels``, else the channel number as text. JSONL by file adds
``dialogue`` after ``turns`` (every channel's turns in speech order), and
``channel_transcripts`` when the job has turns on more than one channel.
"""

from __future__ import annotations

from typing import Any

from jobrunner.export.dialogue import Labels, label
from jobrunner.formatting import iso
from jobrunner.store import ExportJob, TurnView

#: one per job (``--by file``); JSONL adds ``turns`` after these
FILE_FIELDS: tuple[str, ...] = (
    "job_id",
    "path",
    "label",
    "status",
    "error_kind",
    "error",
    "duration_s",
    "sample_rate",
    "channels",
    "format",
    "subtype",
    "sha256",
    "encoding",
    "model",
    "request_id",
    "attempts",
    "transcript_attempt",
    "finished_at",
    "turn_count",
    "transcript",
    "coverage",
    "uncovered_s",
    "endpoint",
)

#: the timing fields of a turn, nested in JSONL by file and in every row by turn
TIMING_FIELDS: tuple[str, ...] = (
    "start_s",
    "end_s",
    "first_update_s",
    "eager_end_s",
    "updates",
    "eager_ends",
    "resumes",
    "start_wall_s",
    "end_wall_s",
)

#: a turn's times from the speech map, after everything else of the turn in every export but
#: ``words`` (added after them)
SPEECH_FIELDS: tuple[str, ...] = (
    "speech_start_s",
    "speech_end_s",
    "end_latency_s",
    "start_latency_s",
    "eager_latency_s",
)

#: one turn inside a JSONL-by-file object's ``turns`` list
NESTED_TURN_FIELDS: tuple[str, ...] = (
    "index",
    "channel",
    "transcript",
    *TIMING_FIELDS,
    "ended_by",
    *SPEECH_FIELDS,
    "words",
)

#: one per turn (``--by turn``): the job's key fields, then the turn
TURN_FIELDS: tuple[str, ...] = (
    "job_id",
    "path",
    "label",
    "status",
    "sha256",
    "model",
    "request_id",
    "turn_index",
    "channel",
    *TIMING_FIELDS,
    "transcript",
    "ended_by",
    *SPEECH_FIELDS,
    "words",
    "speaker",
)


def _ms(value: float | None) -> float | None:
    # round(x * 1000) / 1000 is round(x, 3) for the magnitudes here, at a fifth of the cost
    return None if value is None else round(value * 1000) / 1000


def timings(t: TurnView) -> tuple[Any, ...]:
    """The values of :data:`TIMING_FIELDS` for one turn."""
    return (
        _ms(t.start_audio_s),
        _ms(t.end_audio_s),
        _ms(t.first_update_audio_s),
        _ms(t.eager_end_audio_s),
        t.updates,
        t.eager_ends,
        t.resumes,
        _ms(t.start_wall_s),
        _ms(t.end_wall_s),
    )


def speech(t: TurnView) -> tuple[Any, ...]:
    """The values of :data:`SPEECH_FIELDS` for one turn."""
    return (
        _ms(t.speech_start_s),
        _ms(t.speech_end_s),
        _ms(t.end_latency_s),
        _ms(t.start_latency_s),
        _ms(t.eager_latency_s),
    )


def file_row(e: ExportJob) -> tuple[Any, ...]:
    """The values of :data:`FILE_FIELDS` for one job. ``transcript`` is ``None`` until an
    attempt succeeded; ``error`` is the last failure's reason (also of a job still queued)."""
    j = e.job
    return (
        j.id,
        j.path,
        j.label,
        j.state,
        j.error_kind,
        j.reason,
        j.duration_s,
        j.sample_rate,
        j.channels,
        j.format,
        j.subtype,
        j.sha256,
        e.encoding,
        e.settings.get("model"),
        e.request_id,
        j.attempts,
        e.transcript_attempt,
        iso(j.finished_at),
        len(e.turns),
        e.transcript,
        j.coverage,
        _ms(j.uncovered_s),
        e.settings.get("endpoint") or "auto",
    )


def nested_turn(t: TurnView) -> tuple[Any, ...]:
    """The values of :data:`NESTED_TURN_FIELDS` for one turn."""
    return (t.index, t.channel, t.transcript, *timings(t), t.ended_by, *speech(t), t.words)


#: how many of :data:`TURN_FIELDS` are the job's (the rest are the turn's)
JOB_KEY_LENGTH = 7


def job_key(e: ExportJob) -> tuple[Any, ...]:
    """The job's values at the start of every :data:`TURN_FIELDS` row."""
    j = e.job
    return (j.id, j.path, j.label, j.state, j.sha256, e.settings.get("model"), e.request_id)


def turn_part(t: TurnView, labels: Labels = ()) -> tuple[Any, ...]:
    """The turn's values that follow :func:`job_key` in a :data:`TURN_FIELDS` row."""
    speaker = label(t.channel, labels)
    return (t.index, t.channel, *timings(t), t.transcript, t.ended_by, *speech(t), t.words, speaker)
