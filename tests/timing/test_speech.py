"""One job against its speech map (``timing.speech``) and the latency percentiles: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jobrunner.audio.speechmap import SpeechMap
from jobrunner.audio.vad import Segment
from jobrunner.timing.coverage import EMPTY_TURN_SPEECH_S
from jobrunner.timing.latency import Latencies, rank
from jobrunner.timing.speech import time_job

S = Segment


@dataclass(frozen=True)
class Turn:
    index: int
    transcript: str
    start_audio_s: float | None
    end_audio_s: float | None
    eager_end_audio_s: float | None = None
    channel: int = 0


def speech_map(*channels: list[Segment], duration: float = 10.0, split: bool = False) -> SpeechMap:
    return SpeechMap(
        channels=tuple(tuple(c) for c in channels),
        duration_s=duration,
        sample_rate=16000,
        detector="test/1",
        mode="split" if split else "downmix",
    )


def test_turns_in_any_order_get_their_own_times_and_a_clean_job_is_covered() -> None:
    speech = speech_map([S(0.5, 2.0), S(3.0, 4.2)])
    turns = [Turn(1, " Bye.", 3.3, 4.9), Turn(0, "Hello.", 0.8, 2.6)]
    timing = time_job(speech, turns)
    assert (timing.turns[0].speech_start_s, timing.turns[0].speech_end_s) == (3.0, 4.2)
    assert timing.turns[0].end_latency_s == pytest.approx(0.7)
    assert timing.turns[1].end_latency_s == pytest.approx(0.6)
    assert timing.coverage.verdict == "covered" and timing.coverage.uncovered_s == 0.0
    assert timing.coverage.speech_s == pytest.approx(2.7)


def test_an_empty_turn_over_a_sentence_is_uncovered_and_over_a_cough_is_not() -> None:
    speech = speech_map([S(0.5, 2.0), S(3.0, 3.3), S(5.0, 7.0)])
    turns = [Turn(0, "Hello.", 0.8, 2.6), Turn(1, "", 3.1, 3.9), Turn(2, "", 5.2, 7.6)]
    timing = time_job(speech, turns)
    assert timing.coverage.verdict == "uncovered"
    assert timing.coverage.empty_turns == 1  # the 2 s sentence; not the 0.3 s cough
    assert timing.coverage.uncovered_s == pytest.approx(2.0)
    assert 0.3 < EMPTY_TURN_SPEECH_S < 2.0


def test_speech_after_the_last_turn_is_uncovered() -> None:
    speech = speech_map([S(0.5, 2.0), S(4.0, 6.5)])
    timing = time_job(speech, [Turn(0, "Hello.", 0.8, 2.6)])
    assert timing.coverage.verdict == "uncovered" and timing.coverage.uncovered_s == 2.5


def test_no_turn_at_all_leaves_all_the_speech_uncovered() -> None:
    timing = time_job(speech_map([S(0.5, 2.0)]), [])
    assert timing.turns == () and timing.coverage.uncovered_s == 1.5


def test_a_split_map_judges_each_session_by_its_own_channel_only() -> None:
    # downmix "first": only channel 0 was streamed; the other speaker is not the session's
    speech = speech_map([S(0.5, 2.0)], [S(3.0, 8.0)], split=True)
    timing = time_job(speech, [Turn(0, "Hello.", 0.8, 2.6)])
    assert timing.turns[0].speech_end_s == 2.0
    assert timing.coverage.verdict == "covered" and timing.coverage.speech_s == 1.5


def test_flush_events_within_one_chunk_of_the_map_duration_count_as_the_file_end() -> None:
    # the audio clock ended at 7.0 s sent, the decoded map says 6.98 s: both turns ended in
    # the flush, so neither has a turn-detection latency
    speech = speech_map([S(0.5, 2.0), S(4.5, 6.4)], duration=6.98)
    timing = time_job(speech, [Turn(0, "a", 0.9, 7.0), Turn(1, "b", 4.9, 7.0)])
    assert [t.end_latency_s for t in timing.turns] == [None, None]
    assert [t.speech_end_s for t in timing.turns] == [2.0, 6.4]


def test_percentiles_are_nearest_rank_values_that_were_measured() -> None:
    values = [0.9, None, 0.1, 0.5, 0.3, 0.7]
    assert Latencies.of(values) == Latencies(5, 0.5, 0.9)
    assert Latencies.of([None]) == Latencies() and Latencies().describe() == "-"
    assert [rank(10, p) for p in (0.5, 0.9, 1.0)] == [4, 8, 9]
    assert Latencies.of([2.0]).describe() == "p50 2.000 s, p90 2.000 s (1 turn)"
