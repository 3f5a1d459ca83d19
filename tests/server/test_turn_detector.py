"""The shared turn detector: probabilities in, decisions at sample positions out (no audio)."""

from __future__ import annotations

import pytest

from jobrunner.protocol.events import ConfigRequest
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams

RATE = 16000
FRAME = 160  # 10 ms


def detector(**params: float) -> TurnDetector:
    return TurnDetector(DetectorConfig(RATE, FRAME), TurnParams(**params))


def feed(det: TurnDetector, *pattern: tuple[float, int]) -> list[TurnDecision]:
    """Push ``(probability, milliseconds)`` stretches, one 10 ms frame at a time."""
    out: list[TurnDecision] = []
    for prob, ms in pattern:
        for _ in range(ms // 10):
            out.extend(det.push(prob))
    return out


def ms(samples: int) -> float:
    return samples * 1000 / RATE


def test_default_turn_starts_after_160ms_and_ends_after_600ms_of_silence() -> None:
    det = detector()
    decisions = feed(det, (0.0, 500), (0.9, 1000), (0.0, 1000))
    assert [d.kind for d in decisions] == ["start", "eager_end", "end"]
    start, eager, end = decisions
    assert ms(start.at) == 500 + 160
    assert ms(start.start) == 500 - 200  # pre-roll
    assert ms(eager.end) == ms(end.end) == 1500  # last speech frame
    assert ms(eager.at) == pytest.approx(1500 + 342, abs=10)
    assert ms(end.at) == 1500 + 600
    assert end.start == start.start
    assert det.state == "idle"


def test_preroll_is_clamped_at_the_start_of_the_stream() -> None:
    decisions = feed(detector(), (1.0, 300))
    assert decisions[0].start == 0


def test_speech_shorter_than_the_start_duration_is_no_turn() -> None:
    det = detector()
    assert feed(det, (1.0, 100), (0.0, 500), (1.0, 100), (0.0, 500)) == []
    feed(det, (1.0, 100))
    assert det.state == "pending"
    assert det.finish() == []  # a pending run at the end is dropped


def test_short_dips_do_not_abandon_a_pending_run() -> None:
    det = detector()
    decisions = feed(det, (1.0, 100), (0.0, 50), (1.0, 60))
    assert [d.kind for d in decisions] == ["start"]
    assert ms(decisions[0].at) == 210


def test_a_pause_between_eager_and_end_silence_resumes_the_turn() -> None:
    det = detector()
    decisions = feed(det, (1.0, 300), (0.0, 450), (1.0, 300), (0.0, 700))
    assert [d.kind for d in decisions] == ["start", "eager_end", "resume", "eager_end", "end"]
    assert ms(decisions[2].at) == 760
    assert ms(decisions[-1].end) == 1050


def test_hysteresis_keeps_a_turn_alive_between_the_two_thresholds() -> None:
    det = detector()
    assert feed(det, (0.4, 500)) == []  # below the speech threshold: never starts
    decisions = feed(det, (0.9, 200), (0.4, 1000))
    assert [d.kind for d in decisions] == ["start"]  # above the silence threshold: still speech
    assert [d.kind for d in feed(det, (0.1, 700))] == ["eager_end", "end"]


def test_start_threshold_changes_the_speech_needed() -> None:
    assert feed(detector(start_threshold=0.9), (1.0, 220)) == []
    assert [d.kind for d in feed(detector(start_threshold=0.9), (1.0, 240))] == ["start"]
    low = feed(detector(start_threshold=0.5), (1.0, 80))
    assert [d.kind for d in low] == ["start"] and ms(low[0].at) == 70


def test_lower_end_threshold_needs_more_silence_and_timeout_caps_it() -> None:
    det = detector(end_threshold=0.05)
    kinds = [d.kind for d in feed(det, (1.0, 300), (0.0, 1000))]
    assert kinds == ["start", "eager_end"]  # 1000 ms of silence is not enough
    assert [d.kind for d in feed(det, (0.0, 200))] == ["end"]  # ~1117 ms is
    capped = feed(detector(end_threshold=0.05, end_timeout_ms=640), (1.0, 300), (0.0, 700))
    assert ms(capped[-1].at - capped[-1].end) == 640


def test_eager_end_is_skipped_when_it_would_not_come_before_the_end() -> None:
    det = detector(eager_end_threshold=0.3, end_threshold=0.35)  # 449 ms vs 391 ms
    assert [d.kind for d in feed(det, (1.0, 300), (0.0, 1000))] == ["start", "end"]


def test_configure_applies_from_the_next_frame() -> None:
    det = detector()
    feed(det, (1.0, 300))
    det.configure(ConfigRequest(end_threshold=0.05))
    assert det.params.end_threshold == 0.05 and det.params.start_threshold is None
    assert [d.kind for d in feed(det, (0.0, 900))] == ["eager_end"]


def test_finish_ends_an_open_turn_at_its_last_speech() -> None:
    det = detector()
    feed(det, (1.0, 300), (0.0, 100))
    (end,) = det.finish()
    assert end.kind == "end" and ms(end.end) == 300 and ms(end.at) == 400
    assert det.finish() == []


def test_keep_from_tracks_what_a_later_decision_can_refer_to() -> None:
    det = detector()
    feed(det, (0.0, 1000))
    assert ms(det.keep_from) == 800
    feed(det, (1.0, 50))
    assert ms(det.keep_from) == 800  # pending run began at 1000, minus pre-roll
    feed(det, (1.0, 500), (0.0, 100))
    assert ms(det.keep_from) == 800  # the open turn's start
    feed(det, (0.0, 600))
    assert ms(det.keep_from) == 2250 - 200  # idle: the pre-roll before now


def test_partial_last_frame() -> None:
    det = detector()
    feed(det, (1.0, 300))
    det.push(0.0, samples=40)
    assert det.position == 300 * 16 + 40
