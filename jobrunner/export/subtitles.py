"""SRT and WebVTT: one cue per turn, timed by the turn's measured ``start_s``..``end_s``.

Cue times are the audio clock at event arrival (see :mod:`jobrunner.export.fields`), so a cue
starts somewhat after the words do and ends after the speaker's closing silence; nothing is
shifted. Cue text is the turn's text with the joining space (and any other outer whitespace)
trimmed and blank lines removed, because a blank line ends a cue in both formats; WebVTT also
escapes ``&``, ``<`` and ``>``. Turns with no text give no cue. Cues are ordered by start time
(channels of a multichannel file interleave). A cue shorter than :data:`MIN_CUE_S` (both events
arrived within one audio chunk, e.g. after the last chunk was sent) is stretched to that length,
but never into the next cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jobrunner.store import ExportJob

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


def cues(job: ExportJob) -> list[Cue]:
    """The cues of a job, in time order."""
    raw: list[tuple[float, int, int, float, str]] = []
    for t in job.turns:
        text = cue_text(t.transcript)
        if not text:
            continue
        start = t.start_audio_s if t.start_audio_s is not None else t.end_audio_s
        start = 0.0 if start is None else max(0.0, start)
        end = max(start, t.end_audio_s if t.end_audio_s is not None else start)
        raw.append((start, t.channel, t.index, end, text))
    raw.sort()
    out: list[Cue] = []
    for i, (start, _channel, _index, end, text) in enumerate(raw):
        if end - start < MIN_CUE_S:
            end = start + MIN_CUE_S
            following = raw[i + 1][0] if i + 1 < len(raw) else None
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


def srt(job: ExportJob) -> Iterator[str]:
    """The SRT document of one job, in pieces (empty when the job has no spoken turn)."""
    for n, cue in enumerate(cues(job), 1):
        span = f"{timestamp(cue.start_s, ',')} --> {timestamp(cue.end_s, ',')}"
        yield f"{n}\n{span}\n{cue.text}\n\n"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(job: ExportJob) -> Iterator[str]:
    """The WebVTT document of one job, in pieces."""
    yield "WEBVTT\n\n"
    for cue in cues(job):
        span = f"{timestamp(cue.start_s, '.')} --> {timestamp(cue.end_s, '.')}"
        yield f"{span}\n{_vtt_escape(cue.text)}\n\n"
