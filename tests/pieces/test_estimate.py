"""The estimate's pure half: piece counts, the list-scheduling makespan, the cost."""

from __future__ import annotations

import pytest

from jobrunner.pieces.estimate import EstimateOptions, Lane, estimate, makespan, piece_counts

RATE = 1000


def lane(path: str, seconds: float, *, mapped: bool = True, channel: int | None = None) -> Lane:
    """A lane with 8 s of speech, then 2 s of silence, over and over."""
    speech = tuple((float(t), t + 8.0) for t in range(0, int(seconds) - 8, 10)) if mapped else None
    return Lane(path, channel, int(seconds * RATE), RATE, speech)


def test_makespan_is_longest_first_list_scheduling() -> None:
    # longest first on 2 sessions: 5 | 4, then 3 on the second (4 + 3 = 7), 2 on the first
    assert makespan([2, 3, 4, 5], 2, session_overhead_s=0, startup_s=0) == 7
    assert makespan([2, 3, 4, 5], 2, session_overhead_s=1, startup_s=0) == 9
    assert makespan([10], 4, pace=2, session_overhead_s=0, startup_s=3) == 8
    assert makespan([], 4) == 0


def test_a_long_file_at_c8_becomes_8_pieces_and_ends_8_times_sooner() -> None:
    result = estimate([lane("a.wav", 3600)], EstimateOptions(concurrency=8, session_overhead_s=0))
    assert (result.sessions, result.pieces) == (1, 8)
    assert result.makespan_unsplit_s == pytest.approx(3600 + 1)
    assert result.makespan_split_s < 3600 / 8 * 1.1


def test_two_half_hour_files_at_c8_are_four_pieces_each() -> None:
    lanes = [lane("a.wav", 1800), lane("b.wav", 1800)]
    assert piece_counts(lanes, 8, 600) == [4, 4]


def test_only_files_over_split_min_and_with_a_map_are_split() -> None:
    lanes = [lane("a.wav", 500), lane("b.wav", 3000), lane("c.wav", 3000, mapped=False)]
    assert piece_counts(lanes, 8, 600) == [1, 4, 1]  # ideal 6500 / 8 = 812 s
    assert piece_counts(lanes, 8, 5000) == [1, 1, 1]


def test_many_short_files_fill_the_sessions_without_splitting() -> None:
    lanes = [lane(f"{i}.wav", 700) for i in range(16)]
    result = estimate(lanes, EstimateOptions(concurrency=8))
    assert result.pieces == 16
    assert result.makespan_split_s == result.makespan_unsplit_s


def test_no_split_reports_whole_files_but_still_says_what_splitting_would_give() -> None:
    result = estimate([lane("a.wav", 3600)], EstimateOptions(concurrency=4, split=False))
    assert result.pieces == 1
    assert result.makespan_split_s < result.makespan_unsplit_s / 3


def test_split_channels_are_sessions_and_are_paid_for_each() -> None:
    lanes = [lane("call.wav", 100, channel=0), lane("call.wav", 100, channel=1)]
    result = estimate(lanes, EstimateOptions(price_per_audio_hour=0.36))
    assert (result.files, result.sessions) == (1, 2)
    assert result.audio_s == 100 and result.sent_s == 200
    assert result.cost == pytest.approx(0.02)


def test_without_a_price_there_is_no_cost() -> None:
    result = estimate([lane("a.wav", 60, mapped=False)], EstimateOptions())
    assert result.cost is None and result.to_json()["cost"] is None
    assert result.unmapped == 1 and result.speech_s == 0
