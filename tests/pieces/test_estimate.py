"""The estimate's pure half: slice counts, the list-scheduling makespan, the cost."""

from __future__ import annotations

import pytest

from jobrunner.pieces.estimate import (
    EstimateOptions,
    FileWork,
    estimate,
    makespan,
    slice_counts,
)

RATE = 1000


def work(path: str, seconds: float, *, mapped: bool = True, sessions: int = 1) -> FileWork:
    """A file with 8 s of speech, then 2 s of silence, over and over."""
    speech = tuple((float(t), t + 8.0) for t in range(0, int(seconds) - 8, 10))
    return FileWork(
        path,
        int(seconds * RATE),
        RATE,
        sessions,
        sum(b - a for a, b in speech) * sessions if mapped else None,
        speech if mapped else None,
    )


def test_makespan_is_longest_first_list_scheduling() -> None:
    # longest first on 2 sessions: 5 | 4, then 3 on the second (4 + 3 = 7), 2 on the first
    assert makespan([2, 3, 4, 5], 2, session_overhead_s=0, startup_s=0) == 7
    assert makespan([2, 3, 4, 5], 2, session_overhead_s=1, startup_s=0) == 9
    assert makespan([10], 4, pace=2, session_overhead_s=0, startup_s=3) == 8
    assert makespan([], 4) == 0


def test_an_hour_long_file_at_c8_becomes_8_pieces_and_ends_about_8_times_sooner() -> None:
    result = estimate([work("a.wav", 3600)], EstimateOptions(concurrency=8))
    assert (result.sessions, result.pieces) == (1, 8)
    assert result.makespan_unsplit_s == pytest.approx(3600 + 2)
    assert result.makespan_split_s < 3600 / 8 * 1.1


def test_two_half_hour_files_at_c8_are_four_pieces_each() -> None:
    files = [work("a.wav", 1800), work("b.wav", 1800)]
    assert slice_counts(files, 8, 600) == [4, 4]


def test_short_files_keep_their_sessions_and_the_floor_is_half_split_min() -> None:
    files = [work("a.wav", 500), work("b.wav", 3000), work("c.wav", 700)]
    # 8 sessions, one for the short file, 7 shared by the two long ones: 3 each; c.wav (700 s)
    # is cut at most once per 300 s: 2
    assert slice_counts(files, 8, 600) == [1, 3, 2]
    assert slice_counts(files, 8, 5000) == [1, 1, 1]


def test_a_long_file_without_a_map_stays_whole() -> None:
    assert slice_counts([work("a.wav", 3000, mapped=False)], 8, 600) == [1]


def test_many_files_fill_the_sessions_without_splitting() -> None:
    files = [work(f"{i}.wav", 700) for i in range(16)]
    result = estimate(files, EstimateOptions(concurrency=8))
    assert result.pieces == 16
    assert result.makespan_split_s == result.makespan_unsplit_s


def test_no_split_reports_whole_files_but_still_says_what_splitting_would_give() -> None:
    result = estimate([work("a.wav", 3600)], EstimateOptions(concurrency=4, split=False))
    assert result.pieces == 1
    assert result.makespan_split_s < result.makespan_unsplit_s / 3


def test_split_channels_are_sessions_and_are_paid_for_each() -> None:
    call = work("call.wav", 1800, sessions=2)
    result = estimate([call], EstimateOptions(concurrency=8, price_per_audio_hour=0.36))
    assert (result.files, result.sessions, result.pieces) == (1, 2, 8)  # 4 slices x 2 channels
    assert result.audio_s == 1800 and result.sent_s == 3600
    assert result.cost == pytest.approx(0.36)


def test_without_a_price_there_is_no_cost() -> None:
    result = estimate([work("a.wav", 60, mapped=False)], EstimateOptions())
    assert result.cost is None and result.to_json()["cost"] is None
    assert result.unmapped == 1 and result.speech_s == 0
