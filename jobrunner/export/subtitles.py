"""SRT and WebVTT: one cue per turn, timed by the turn's speech (or its events).

``times="speech"`` (the default) times a cue by where the turn's speech is in the file
(``speech_start_s``..``speech_end_s``, from the speech map): it starts with the words and ends
with them. A turn the map could not place falls back to its event times, field by field, and
such a cue never runs into the next one. ``times="event"`` uses the event times only
(``start_s``..``end_s``: the audio clock at event arrival, see :mod:`jobrunner.export.fields`),
so a cue starts somewhat after the words do and ends after the speaker's closing silence, as
before the speech map existed. Nothing is shifted by a guessed constant.

When the job has turns on more than one channel, or channel labels are given, each cue starts
with its speaker: ``agent: Hello.`` (the channel's label, :mod:`jobrunner.export.dialogue`).

Cue text is the turn's text with the joining space (and any other outer whitespace) trimmed
and blank lines removed, because a blank line ends a cue in both formats; WebVTT also escapes
``&``, ``<`` and ``>``. Turns with no text give no cue. Cues are ordered by start time
(channels of a multichannel file interleave). A cue shorter than :data:`MIN_CUE_S` (a short
word, or both events within one audio chunk after the last chunk was sent) is stretched to
that length, but never into the next cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from jobrunner.export.dialogue import Labels, label, multichannel
from jobrunner.store import ExportJob, TurnView

Times = Literal["speech", "event"]
TIMES: tuple[Times, ...] = ("speech", "event")

#: the shortest cue written, in seconds (a zero-length cue would never be shown)
MIN_CUE_S = 1.0

_BLANK_LINES = re.compile(r"\n[^\S\n]*(?:\n[^\S\n]*)+")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def cue_text(transcript: str) -> str:
    """A turn's text as a cue shows it (one line unless the text itself has line breaks)."""
    text = transcript.replace("\r\n", "\n").replace("\r", "\n").strip()
    return _BLANK_LINES.sub("\n", text)


def _span(t: TurnView, times: Times) -> tuple[float | None, float | None, bool]:
    """(start, end, whether any of them is an event time standing in for a speech time)."""
    if times == "event":
        return t.start_audio_s, t.end_audio_s, False
    start = t.speech_start_s if t.speech_start_s is not None else t.start_audio_s
    end = t.speech_end_s if t.speech_end_s is not None else t.end_audio_s
    return start, end, t.speech_start_s is None or t.speech_end_s is None


def cues(job: ExportJob, times: Times = "speech", labels: Labels = ()) -> list[Cue]:
    """The cues of a job, in time order (prefixed with the speaker: see the module)."""
    raw: list[tuple[float, int, int, float, str, bool]] = []
    speakers = bool(labels) or multichannel(job.turns)
    for t in job.turns:
        text = cue_text(t.transcript)
        if not text:
            continue
        if speakers:
            text = f"{label(t.channel, labels)}: {text}"
        first, last, fallback = _span(t, times)
        start = first if first is not None else last
        start = 0.0 if start is None else max(0.0, start)
        end = max(start, last if last is not None else start)
        raw.append((start, t.channel, t.index, end, text, fallback))
    raw.sort()
    out: list[Cue] = []
    for i, (start, _channel, _index, end, text, fallback) in enumerate(raw):
        following = raw[i + 1][0] if i + 1 < len(raw) else None
        if fallback and following is not None and following > start:
            end = min(end, following)  # an event time lags: it must not cover the next words
        if end - start < MIN_CUE_S:
            end = start + MIN_CUE_S
            if following is not None and following > start:
                end = min(end, following)
        out.append(Cue(start, end, text))
    return out


def timestamp(seconds: float, decimal: str) -> str:
    """``HH:MM:SS,mmm`` (SRT, ``decimal=","``) or ``HH:MM:SS.mmm`` (WebVTT)."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{ms:03d}"


def srt(job: ExportJob, times: Times = "speech", labels: Labels = ()) -> Iterator[str]:
    """The SRT document of one job, in pieces (empty when the job has no spoken turn)."""
    for n, cue in enumerate(cues(job, times, labels), 1):
        span = f"{timestamp(cue.start_s, ',')} --> {timestamp(cue.end_s, ',')}"
        yield f"{n}\n{span}\n{cue.text}\n\n"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(job: ExportJob, times: Times = "speech", labels: Labels = ()) -> Iterator[str]:
    """The WebVTT document of one job, in pieces."""
    yield "WEBVTT\n\n"
    for cue in cues(job, times, labels):
        span = f"{timestamp(cue.start_s, '.')} --> {timestamp(cue.end_s, '.')}"
        yield f"{span}\n{_vtt_escape(cue.text)}\n\n"
