"""Turn alignment against the speech map: each hard case of the contract, no I/O."""

from __future__ import annotations

import pytest

from jobrunner.audio.vad import Segment
from jobrunner.timing.align import TurnAlignment, TurnTimes, align_turns
from jobrunner.timing.coverage import EMPTY_TURN_SPEECH_S, UNCOVERED_S, judge

S = Segment


def test_each_turn_owns_the_speech_that_ended_before_its_end_event() -> None:
    speech = [S(0.5, 2.0), S(2.4, 3.1), S(5.0, 6.2)]
    turns = [TurnTimes(0.9, 4.0, eager_end_s=3.6), TurnTimes(5.6, 7.5)]
    aligned, unowned = align_turns(turns, speech, duration_s=10.0)
    assert aligned[0] == TurnAlignment(0.5, 3.1, 0.4, 0.9, 0.5)
    assert aligned[1] == TurnAlignment(5.0, 6.2, 0.6, 1.3, None)
    assert unowned == []


def test_end_latency_is_exactly_the_event_position_minus_the_speech_end() -> None:
    aligned, _ = align_turns([TurnTimes(1.3, 4.7)], [S(1.05, 3.361)], duration_s=9.0)
    turn = aligned[0]
    assert turn.speech_end_s == 3.361
    assert turn.end_latency_s == round(4.7 - 3.361, 6)


def test_a_turn_without_mapped_speech_gets_no_times() -> None:
    speech = [S(0.5, 2.0)]
    turns = [TurnTimes(0.8, 3.0), TurnTimes(4.0, 5.0)]  # the second: a cough the map ignored
    aligned, unowned = align_turns(turns, speech, duration_s=6.0)
    assert aligned[0].speech_end_s == 2.0
    assert aligned[1] == TurnAlignment()
    assert unowned == []


def test_speech_that_began_during_the_previous_detection_delay_belongs_to_the_next_turn() -> None:
    # turn 1 ended (event) at 3.0 while the answer had started at 2.8
    speech = [S(0.5, 2.0), S(2.8, 4.5)]
    aligned, _ = align_turns([TurnTimes(0.8, 3.0), TurnTimes(3.2, 5.9)], speech, 8.0)
    assert (aligned[0].speech_start_s, aligned[0].speech_end_s) == (0.5, 2.0)
    assert (aligned[1].speech_start_s, aligned[1].speech_end_s) == (2.8, 4.5)


def test_two_turns_inside_one_segment_leave_the_inner_boundary_unknown() -> None:
    speech = [S(0.5, 4.0)]  # the service ended a turn in a pause the map merged
    aligned, unowned = align_turns([TurnTimes(0.7, 2.6), TurnTimes(2.9, 5.0)], speech, 6.0)
    assert aligned[0] == TurnAlignment(0.5, None, pytest.approx(0.2), None, None)
    assert aligned[1].speech_start_s is None and aligned[1].speech_end_s == 4.0
    assert aligned[1].end_latency_s == pytest.approx(1.0)
    assert unowned == []


def test_speech_after_the_last_turn_is_owned_by_nobody() -> None:
    speech = [S(0.5, 2.0), S(6.0, 8.0)]
    aligned, unowned = align_turns([TurnTimes(0.8, 3.0)], speech, 10.0)
    assert aligned[0].speech_end_s == 2.0
    assert unowned == [S(6.0, 8.0)]


def test_an_eager_end_before_a_resume_is_no_latency() -> None:
    # eager end at 2.3 in a pause, the speaker resumed and finished at 4.0
    speech = [S(0.5, 2.0), S(2.6, 4.0)]
    aligned, _ = align_turns([TurnTimes(0.8, 5.0, eager_end_s=2.3)], speech, 6.0)
    assert aligned[0].speech_end_s == 4.0 and aligned[0].eager_latency_s is None
    aligned, _ = align_turns([TurnTimes(0.8, 5.0, eager_end_s=4.6)], speech, 6.0)
    assert aligned[0].eager_latency_s == pytest.approx(0.6)


def test_flush_time_turns_share_the_tail_at_its_largest_pauses_and_have_no_end_latency() -> None:
    speech = [S(0.5, 2.0), S(2.2, 3.0), S(4.5, 5.5), S(5.7, 6.4)]
    # the session was closed before the detector ended the last two turns: both end events
    # arrived in the flush, at the file's duration
    turns = [TurnTimes(0.9, 7.0), TurnTimes(4.9, 7.0)]
    aligned, unowned = align_turns(turns, speech, duration_s=7.0)
    assert (aligned[0].speech_start_s, aligned[0].speech_end_s) == (0.5, 3.0)
    assert (aligned[1].speech_start_s, aligned[1].speech_end_s) == (4.5, 6.4)
    assert aligned[0].end_latency_s is None and aligned[1].end_latency_s is None
    assert aligned[1].start_latency_s == pytest.approx(0.4)
    assert unowned == []


def test_coverage_flags_unowned_speech_over_the_tolerance_only() -> None:
    speech = [S(0.5, 2.0), S(6.0, 6.3)]
    assert not judge(speech, [S(6.0, 6.3)], []).flagged  # a trailing breath
    lost = [S(6.0, 6.0 + UNCOVERED_S + 0.2)]
    verdict = judge(speech, lost, [])
    assert verdict.flagged and verdict.uncovered_s == pytest.approx(UNCOVERED_S + 0.2)


def test_coverage_flags_an_empty_turn_that_holds_speech() -> None:
    assert judge([S(0.5, 3.0)], [], [EMPTY_TURN_SPEECH_S + 0.5]).flagged
    assert not judge([S(0.5, 3.0)], [], [0.3]).flagged  # a cough: an empty turn is legal


def test_a_late_end_event_does_not_take_the_next_turns_speech() -> None:
    # a lagging service ended "No, thank you" (1.7-2.9 s) at 5.3 s, after "Okay, goodbye"
    # (3.9-5.15 s) had ended too: the reply started its turn late and owns nothing by event order
    speech = [S(0.5, 0.9), S(1.7, 2.3), S(2.6, 2.9), S(3.9, 5.15)]
    turns = [TurnTimes(0.7, 1.6), TurnTimes(2.1, 5.3), TurnTimes(5.4, 6.3)]
    aligned, unowned = align_turns(turns, speech, duration_s=6.3)
    assert (aligned[1].speech_start_s, aligned[1].speech_end_s) == (1.7, 2.9)
    assert aligned[1].end_latency_s == pytest.approx(2.4)
    assert (aligned[2].speech_start_s, aligned[2].speech_end_s) == (3.9, 5.15)
    assert unowned == []


def test_a_late_turn_without_text_takes_nothing() -> None:
    # the same events, but the last turn came back empty: noise, not a late reply
    speech = [S(1.7, 2.3), S(2.6, 2.9), S(3.9, 5.15)]
    turns = [TurnTimes(2.1, 5.3), TurnTimes(5.4, 6.3, text=False)]
    aligned, _ = align_turns(turns, speech, duration_s=6.3)
    assert (aligned[0].speech_start_s, aligned[0].speech_end_s) == (1.7, 5.15)
    assert aligned[1] == TurnAlignment()
