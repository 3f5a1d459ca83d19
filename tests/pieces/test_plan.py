"""The piece planner: exact coverage, cuts only in long silences, about equal speech."""

from __future__ import annotations

import random

import pytest

from jobrunner.pieces.plan import FrameRange, plan_pieces

SR = 16_000


def _speech_in(ranges: list[FrameRange], speech: list[tuple[float, float]]) -> list[float]:
    """Seconds of speech in each range."""
    out = []
    for r in ranges:
        a, b = r.start_frame / SR, r.end_frame / SR
        out.append(sum(max(0.0, min(b, e) - max(a, s)) for s, e in speech))
    return out


def test_single_long_file_gets_equal_speech_pieces() -> None:
    # 40 turns of 10 s speech separated by 2 s silences: 478 s
    speech = [(i * 12.0, i * 12.0 + 10.0) for i in range(40)]
    frames = int(478.0 * SR)
    ranges = plan_pieces(speech, frames, SR, 4)
    assert len(ranges) == 4
    assert _speech_in(ranges, speech) == [100.0, 100.0, 100.0, 100.0]
    # each cut sits 0.3 s before the next onset: the next piece starts inside the silence
    assert [r.start_frame for r in ranges[1:]] == [int((12.0 * k - 0.3) * SR) for k in (10, 20, 30)]


def test_short_silences_are_never_cut() -> None:
    speech = [(0.0, 10.0), (11.0, 20.0), (21.4, 30.0)]  # gaps 1.0 and 1.4 s
    assert plan_pieces(speech, 30 * SR, SR, 3) == [FrameRange(0, 30 * SR)]


def test_fewer_pieces_when_silences_run_out() -> None:
    speech = [(0.0, 10.0), (12.0, 20.0), (20.5, 30.0)]  # one long gap only
    ranges = plan_pieces(speech, 31 * SR, SR, 8)
    assert ranges == [FrameRange(0, int(11.7 * SR)), FrameRange(int(11.7 * SR), 31 * SR)]


@pytest.mark.parametrize(
    ("speech", "pieces"),
    [([], 4), ([(0.0, 5.0), (10.0, 15.0)], 1), ([(0.0, 30.0)], 4)],
    ids=["no-speech", "one-piece", "no-silence"],
)
def test_whole_file_when_nothing_to_cut(speech: list[tuple[float, float]], pieces: int) -> None:
    assert plan_pieces(speech, 30 * SR, SR, pieces) == [FrameRange(0, 30 * SR)]


def test_leading_and_trailing_silence_are_not_cut() -> None:
    # a piece of pure silence would cost a session for nothing
    speech = [(20.0, 30.0)]
    assert plan_pieces(speech, 60 * SR, SR, 3) == [FrameRange(0, 60 * SR)]


def test_short_gap_smaller_than_lead_in_stays_inside_silence() -> None:
    speech = [(0.0, 10.0), (10.2, 20.0), (21.0, 30.0)]
    ranges = plan_pieces(speech, 30 * SR, SR, 2, min_silence_s=0.1, lead_in_s=0.5)
    assert ranges[1].start_frame == 10 * SR  # clamped to the start of the 0.2 s gap


def _random_speech(rng: random.Random) -> tuple[list[tuple[float, float]], int]:
    t, speech = rng.uniform(0.0, 3.0), []
    for _ in range(rng.randint(0, 60)):
        length = rng.uniform(0.01, 20.0)
        speech.append((t, t + length))
        t += length + rng.choice([rng.uniform(0.0, 1.6), rng.uniform(1.4, 8.0)])
    rng.shuffle(speech)
    if speech and rng.random() < 0.3:
        speech.append((t - 5.0, t + 50.0))  # overlaps, runs past the end of the file
    return speech, max(1, int(t * SR * rng.uniform(0.9, 1.1)))


@pytest.mark.parametrize("seed", range(300))
def test_random_plans_cover_the_file_and_never_cut_speech(seed: int) -> None:
    rng = random.Random(seed)
    speech, frames = _random_speech(rng)
    pieces = rng.randint(1, 40)
    min_silence = rng.choice([0.5, 1.5, 3.0])
    ranges = plan_pieces(speech, frames, SR, pieces, min_silence_s=min_silence)

    assert 1 <= len(ranges) <= pieces
    assert ranges[0].start_frame == 0 and ranges[-1].end_frame == frames
    assert all(r.frames > 0 for r in ranges)
    assert all(a.end_frame == b.start_frame for a, b in zip(ranges, ranges[1:], strict=False))
    for cut in (r.start_frame for r in ranges[1:]):
        t = cut / SR
        assert not any(s < t < e for s, e in speech), f"cut at {t} s inside speech"
        before = max((e for s, e in speech if e <= t), default=None)
        after = min((s for s, e in speech if s >= t), default=None)
        assert before is not None and after is not None, "a cut outside the speech"
        assert after - before >= min_silence - 1e-9
    if len(ranges) > 1:
        assert all(x > 0 for x in _speech_in(ranges, speech))
