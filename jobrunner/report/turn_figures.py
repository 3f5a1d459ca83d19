"""The turn-detection figures: latency distributions, false endpoint alarms, turn rate and
coverage, over the succeeded jobs of a report (pure).

``end_latency_s`` (``turn.end`` after the speech ended) is what a voice agent waits before it
may answer; ``start_latency_s`` how late a turn was announced; ``eager_latency_s`` how early a
speculative reply could start. An eager end that was followed by ``turn.resume`` was a false
alarm: the rate is resumes over eager ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jobrunner.report.speech import JobSpeech
from jobrunner.report.stats import Distribution, distribution
from jobrunner.store.report_queries import ReportJob


@dataclass(frozen=True)
class UncoveredFile:
    job_id: int
    path: str
    uncovered_s: float | None


@dataclass(frozen=True)
class TurnDetection:
    jobs: int  # succeeded jobs
    turns: int
    end_latency: Distribution
    start_latency: Distribution
    eager_latency: Distribution
    eager_ends: int
    resumes: int
    false_alarm_rate: float | None
    mapped_jobs: int  # succeeded jobs with a speech map
    speech_s: float | None  # their mapped speech
    turns_per_speech_minute: float | None
    timed_jobs: dict[str, int]  # where speech times come from: stored / computed / none
    coverage: dict[str, int]  # covered / uncovered / unknown
    uncovered: tuple[UncoveredFile, ...]  # most missed speech first


def turn_detection(jobs: Sequence[ReportJob], speech: Mapping[int, JobSpeech]) -> TurnDetection:
    done = [j for j in jobs if j.state == "succeeded" and j.id in speech]
    turns = [t for j in done for t in speech[j.id].turns]
    mapped = [j for j in done if speech[j.id].speech is not None]
    speech_s = sum(speech[j.id].speech_s or 0.0 for j in mapped) if mapped else None
    mapped_turns = sum(len(speech[j.id].turns) for j in mapped)
    eager_ends = sum(t.eager_ends for t in turns)
    resumes = sum(t.resumes for t in turns)
    verdicts = [speech[j.id].coverage for j in done]
    uncovered = [j for j in done if speech[j.id].coverage == "uncovered"]
    uncovered.sort(key=lambda j: (-(speech[j.id].uncovered_s or 0.0), j.id))
    sources = [speech[j.id].source for j in done]
    return TurnDetection(
        jobs=len(done),
        turns=len(turns),
        end_latency=distribution([t.end_latency_s for t in turns if t.end_latency_s is not None]),
        start_latency=distribution(
            [t.start_latency_s for t in turns if t.start_latency_s is not None]
        ),
        eager_latency=distribution(
            [t.eager_latency_s for t in turns if t.eager_latency_s is not None]
        ),
        eager_ends=eager_ends,
        resumes=resumes,
        false_alarm_rate=resumes / eager_ends if eager_ends else None,
        mapped_jobs=len(mapped),
        speech_s=speech_s,
        turns_per_speech_minute=mapped_turns / (speech_s / 60) if speech_s else None,
        timed_jobs={
            "stored": sources.count("stored"),
            "computed": sources.count("computed"),
            "none": sources.count(None),
        },
        coverage={
            "covered": verdicts.count("covered"),
            "uncovered": verdicts.count("uncovered"),
            "unknown": sum(v not in ("covered", "uncovered") for v in verdicts),
        },
        uncovered=tuple(UncoveredFile(j.id, j.path, speech[j.id].uncovered_s) for j in uncovered),
    )


__all__ = ["TurnDetection", "UncoveredFile", "turn_detection"]
