"""The report's figures against hand-computed answers: WER, turn agreement, latency percentiles
from stored turns, speech times computed from a stored map, coverage, wall time, concurrency."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import reportkit

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.audio.vad import Segment
from jobrunner.report import build_report
from jobrunner.report.accuracy import accuracy, word_counts
from jobrunner.report.health import bucket_seconds, concurrency_steps
from jobrunner.report.references import Reference, References
from jobrunner.report.stats import histogram
from jobrunner.report.summary import busy_seconds
from jobrunner.store import AttemptRecord, NewJob, Store, TurnRow, make_owner
from jobrunner.store.report_queries import ReportJob

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _job(job_id: int, path: str, transcript: str | None, state: str = "succeeded") -> ReportJob:
    return ReportJob(
        id=job_id, path=path, label=None, state=state, duration_s=10.0, channels=1,
        sha256=None, model="ink-2", endpoint="auto", reason=None, error_kind=None, attempts=1,
        created_at=T0,
        finished_at=T0, transcript=transcript, coverage=None, uncovered_s=None,
    )  # fmt: skip


def test_wer_counts_match_a_hand_alignment() -> None:
    # the cat sat on the mat / the cat sit on mat: sat->sit (S), second "the" dropped (D)
    c = word_counts("The cat sat on the mat.", "the cat, sit on mat")
    assert (c.substitutions, c.deletions, c.insertions, c.hits) == (1, 1, 0, 4)
    assert c.wer == pytest.approx(2 / 6)
    c = word_counts("hello world", "hello there world")
    assert (c.substitutions, c.deletions, c.insertions, c.hits) == (0, 0, 1, 2)
    assert c.wer == pytest.approx(1 / 2)


def test_normalization_forgives_what_a_speech_engineer_forgives() -> None:
    # case, punctuation, spelled-out numbers, British spelling, contractions, hesitations
    spelled = word_counts(
        "The new address is twelve Baker Street.", "the address is 12 baker street"
    )
    assert (spelled.deletions, spelled.substitutions) == (1, 0)
    assert word_counts("I'm gonna colour it.", "I am going to color it").wer == 0
    assert word_counts("Um, okay, thanks!", "okay thanks").wer == 0
    assert word_counts("book a table", "book a cable").wer == pytest.approx(1 / 3)


def test_an_empty_side_is_all_insertions_or_all_deletions() -> None:
    nothing_said = word_counts("", "hello there")
    assert (nothing_said.insertions, nothing_said.ref_words, nothing_said.wer) == (2, 0, None)
    nothing_heard = word_counts("hello there", "")
    assert (nothing_heard.deletions, nothing_heard.wer) == (2, 1.0)


def test_overall_wer_is_total_errors_over_total_reference_words() -> None:
    jobs = [
        _job(1, "/a.wav", "hello"),
        _job(2, "/b.wav", "the quick brown fox jumps over the lazy dog"),
        _job(3, "/c.wav", None, state="failed"),
        _job(4, "/d.wav", "nobody wrote this down"),
    ]
    refs = References(
        "test",
        {
            1: Reference("/a.wav", ("hello world",)),
            2: Reference("/b.wav", ("the quick brown fox jumps over the lazy dog",)),
            3: Reference("/c.wav", ("never transcribed",)),
        },
        ("/elsewhere.wav",),
        False,
    )
    acc = accuracy(jobs, refs, {})
    # 1 error in 2 + 9 words: 1/11, not the mean of 50 % and 0 %
    assert acc.wer == pytest.approx(1 / 11)
    assert (acc.deletions, acc.ref_words) == (1, 11)
    assert [f.job_id for f in acc.files] == [1, 2]  # worst first
    assert acc.without_transcript == ("/c.wav",)
    assert acc.without_reference == ("/d.wav",)
    assert acc.unmatched_references == ("/elsewhere.wav",)
    assert acc.turn_agreement is None


def test_turn_agreement_counts_split_and_merged_files() -> None:
    jobs = [_job(i, f"/{i}.wav", "a b c d e f") for i in (1, 2, 3)]
    refs = References(
        "test",
        {i: Reference(f"/{i}.wav", ("a b", "c d", "e f")) for i in (1, 2, 3)},
        (),
        True,
    )
    acc = accuracy(jobs, refs, {1: 3, 2: 2, 3: 5})
    verdicts = {f.job_id: f.turn_verdict for f in acc.files}
    assert verdicts == {1: "equal", 2: "merged", 3: "split"}
    agreement = acc.turn_agreement
    assert agreement is not None
    assert (agreement.equal, agreement.split, agreement.merged) == (1, 1, 1)
    assert (agreement.extra_turns, agreement.missing_turns) == (2, 1)


def _one_job(store: Store, path: str, turns: list[TurnRow], sha: str, duration: float) -> int:
    [inserted] = store.enqueue_many(
        [
            NewJob(
                path=path, idempotency_key=sha, fingerprint="fp", settings={"model": "ink-2"},
                max_attempts=3, sha256=sha, sample_rate=16000, channels=1,
                frames=int(duration * 16000), duration_s=duration,
            )
        ]
    )  # fmt: skip
    owner = make_owner()
    [claimed] = store.claim(1, owner, lease_ttl=60)
    record = AttemptRecord(claimed.attempt, owner, T0, T0)
    store.complete(claimed.id, owner, record, turns, "".join(t.transcript for t in turns))
    return inserted.job_id


def test_latency_percentiles_are_those_of_the_stored_turns(tmp_path: Path) -> None:
    latencies = [0.5, 1.0, 1.5, 2.0, 10.0]
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        turns = [
            TurnRow(index=k, transcript=f" turn {k}.", start_audio_s=3.0 * k + 0.5,
                    end_audio_s=3.0 * k + 2.0 + lat, eager_ends=1, resumes=k % 2)
            for k, lat in enumerate(latencies)
        ]  # fmt: skip
        job_id = _one_job(store, "/calls/a.wav", turns, "a" * 64, 30.0)
        reportkit.store_turn_speech(
            store,
            job_id,
            [
                {"speech_start_s": 3.0 * k, "speech_end_s": 3.0 * k + 2.0, "end_latency_s": lat}
                for k, lat in enumerate(latencies)
            ],
        )
        report = build_report(store)
    end = report.turn_detection.end_latency
    # linear interpolation between order statistics: p90 sits at rank 3.6, p99 at 3.96
    assert (end.n, end.p50, end.mean) == (5, 1.5, pytest.approx(3.0))
    assert end.p90 == pytest.approx(2.0 + 0.6 * 8.0)
    assert end.p99 == pytest.approx(2.0 + 0.96 * 8.0)
    assert sum(end.counts) == 5 and end.edges[0] <= 0.5 and end.edges[-1] >= 10.0
    assert report.turn_detection.timed_jobs == {"stored": 1, "computed": 0, "none": 0}
    # 5 eager ends, 2 of them resumed
    assert report.turn_detection.false_alarm_rate == pytest.approx(2 / 5)
    [row] = report.files
    assert row.p90_latency_s == pytest.approx(6.8)


def test_speech_times_are_computed_from_a_stored_map_when_the_run_kept_none(
    tmp_path: Path,
) -> None:
    turns = [
        TurnRow(index=0, transcript="Hello.", start_audio_s=1.3, end_audio_s=2.9),
        TurnRow(index=1, transcript=" Bye.", start_audio_s=3.8, end_audio_s=5.6),
    ]
    speech = (Segment(1.0, 2.0), Segment(3.5, 4.2), Segment(4.4, 4.9))
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        covered = _one_job(store, "/calls/covered.wav", turns, "c" * 64, 8.0)
        missed = _one_job(store, "/calls/missed.wav", turns, "d" * 64, 8.0)
        reportkit.store_map(store, "c" * 64, SpeechMap((speech,), 8.0, 16000, "test/1"))
        later = (*speech, Segment(6.5, 7.5))  # a sentence after the last turn ended
        reportkit.store_map(store, "d" * 64, SpeechMap((later,), 8.0, 16000, "test/1"))
        report = build_report(store)
    td = report.turn_detection
    assert td.timed_jobs == {"stored": 0, "computed": 2, "none": 0}
    assert td.end_latency.n == 4 and td.end_latency.min == pytest.approx(0.7)
    assert td.end_latency.max == pytest.approx(0.9)
    assert td.start_latency.p50 == pytest.approx(0.3)
    assert td.coverage == {"covered": 1, "uncovered": 1, "unknown": 0}
    [uncovered] = td.uncovered
    assert (uncovered.job_id, uncovered.uncovered_s) == (missed, 1.0)
    assert td.speech_s == pytest.approx(2 * 2.2 + 1.0)
    assert td.turns_per_speech_minute == pytest.approx(4 / (5.4 / 60))
    timeline = next(t for t in report.timelines if t.job_id == covered)
    assert timeline.speech == (((1.0, 2.0), (3.5, 4.2), (4.4, 4.9)),)


def test_histogram_bins_are_round_and_hold_every_value_once() -> None:
    edges, counts = histogram([0.05, 0.1, 0.35, 1.0, 1.0])
    assert sum(counts) == 5 and len(edges) == len(counts) + 1
    step = edges[1] - edges[0]
    assert step in (0.05, 0.1) and edges[0] <= 0.05 and edges[-1] >= 1.0
    assert counts[-1] >= 2  # the maximum falls in the last bin
    assert histogram([]) == ([], [])
    assert sum(histogram([2.0, 2.0])[1]) == 2


def test_wall_time_is_the_time_a_session_was_open() -> None:
    def at(s: float) -> datetime:
        return datetime.fromtimestamp(T0.timestamp() + s, UTC)

    spans = [(at(0), at(10)), (at(5), at(15)), (at(100), at(105))]
    assert busy_seconds(spans) == pytest.approx(20.0)  # not 105: the gap between runs is idle


def test_concurrency_closes_a_session_before_the_next_one_opens() -> None:
    assert concurrency_steps([(0.0, 10.0), (10.0, 20.0), (5.0, 8.0)]) == [
        (0.0, 1), (5.0, 2), (8.0, 1), (10.0, 1), (20.0, 0),
    ]  # fmt: skip
    assert bucket_seconds(3600) == 60
    assert bucket_seconds(60 * 720 + 1) == 120


def test_the_summary_names_every_endpoint_the_jobs_used() -> None:
    from dataclasses import replace

    from jobrunner.report.summary import summary

    jobs = [_job(1, "/a.wav", "x"), replace(_job(2, "/b.wav", "y"), endpoint="manual"),
            replace(_job(3, "/c.wav", "z"), endpoint="manual")]  # fmt: skip
    s = summary(jobs, [], {})
    assert s.endpoints == {"manual": 2, "auto": 1}
    assert s.endpoint == "/stt/websocket"
    assert summary([], [], {}).endpoint == "/stt/turns/websocket"
