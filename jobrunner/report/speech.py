"""Each job's turns against its speech: stored speech times where the run kept them, otherwise
computed here from the stored speech map with the same pure alignment the run uses.

A job whose turns carry no speech time but whose audio has a map (mapped after the run, or a
database from before the speech columns) still gets true latencies and a coverage verdict this
way; a job without a map gets neither, and the report says how many are in that case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.audio.vad import Segment
from jobrunner.store.report_queries import ReportJob, ReportTurn
from jobrunner.timing.align import TurnTimes, align_turns
from jobrunner.timing.coverage import judge

Source = Literal["stored", "computed"]


@dataclass(frozen=True)
class JobSpeech:
    """A job's turns (with speech times when known) and what its speech map says."""

    turns: tuple[ReportTurn, ...]
    speech: SpeechMap | None
    source: Source | None  # where the turns' speech times come from; None: nowhere
    coverage: str | None  # "covered" / "uncovered"; None: unknown
    uncovered_s: float | None

    @property
    def speech_s(self) -> float | None:
        if self.speech is None:
            return None
        return sum(self.speech.speech_s(c) for c in range(len(self.speech.channels)))


def _has_stored(turns: Sequence[ReportTurn]) -> bool:
    return any(t.speech_start_s is not None or t.speech_end_s is not None for t in turns)


def _segments_for(speech: SpeechMap, channel: int) -> tuple[Segment, ...] | None:
    if speech.mode == "downmix":
        return speech.channels[0] if speech.channels else ()
    return speech.channels[channel] if channel < len(speech.channels) else None


def _speech_between(segments: Sequence[Segment], start: float, end: float) -> float:
    return sum(max(0.0, min(s.end_s, end) - max(s.start_s, start)) for s in segments)


def _align(
    turns: Sequence[ReportTurn], speech: SpeechMap, succeeded: bool
) -> tuple[list[ReportTurn], str | None, float | None]:
    """Turns with computed speech times, and the coverage verdict (succeeded jobs only)."""
    out: list[ReportTurn] = []
    unowned: list[Segment] = []
    empty_speech: list[float] = []
    for channel in sorted({t.channel for t in turns} or {0}):
        mine = [t for t in turns if t.channel == channel]
        segments = _segments_for(speech, channel)
        if segments is None:
            out.extend(mine)
            continue
        times = [TurnTimes(t.start_s, t.end_s, t.eager_end_s) for t in mine]
        aligned, left = align_turns(times, segments, speech.duration_s)
        unowned.extend(left)
        for turn, a in zip(mine, aligned, strict=True):
            out.append(
                turn._replace(
                    speech_start_s=a.speech_start_s,
                    speech_end_s=a.speech_end_s,
                    start_latency_s=a.start_latency_s,
                    end_latency_s=a.end_latency_s,
                    eager_latency_s=a.eager_latency_s,
                )
            )
            if not turn.transcript.strip() and a.speech_start_s is not None:
                end = a.speech_end_s if a.speech_end_s is not None else turn.end_s
                if end is not None:
                    empty_speech.append(_speech_between(segments, a.speech_start_s, end))
    if not succeeded:
        return out, None, None
    every = [s for channel in speech.channels for s in channel]
    verdict = judge(every, unowned, empty_speech)
    return out, verdict.verdict, verdict.uncovered_s


def job_speech(
    jobs: Sequence[ReportJob],
    turns_by_job: Mapping[int, Sequence[ReportTurn]],
    maps: Mapping[str, str],
) -> tuple[dict[int, JobSpeech], int]:
    """Per job id, its :class:`JobSpeech`; also the number of stored maps that could not be
    read (an unknown format: the report notes them rather than fail)."""
    out: dict[int, JobSpeech] = {}
    unreadable = 0
    for job in jobs:
        turns = tuple(turns_by_job.get(job.id, ()))
        speech = None
        if job.sha256 is not None and job.sha256 in maps:
            try:
                speech = SpeechMap.from_json(maps[job.sha256])
            except ValueError:
                unreadable += 1
        coverage, uncovered = job.coverage, job.uncovered_s
        source: Source | None = "stored" if _has_stored(turns) else None
        if source is None and speech is not None:
            aligned, verdict, missed = _align(turns, speech, job.state == "succeeded")
            turns, source = tuple(aligned), "computed"
            if coverage is None:
                coverage, uncovered = verdict, missed
        out[job.id] = JobSpeech(turns, speech, source, coverage, uncovered)
    return out, unreadable


__all__ = ["JobSpeech", "job_speech"]
