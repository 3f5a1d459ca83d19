"""Run figures: what progress shows (ETA from pacing and live concurrency) and exit codes."""

from __future__ import annotations

import pytest

from jobrunner.errors import AuthenticationError, ConfigError
from jobrunner.run.outcomes import JobOutcome, Tally


def outcome(kind: str, seconds: float = 10.0) -> JobOutcome:
    return JobOutcome(1, "/a.wav", None, kind, 1, seconds, seconds, 1.0)  # type: ignore[arg-type]


def test_eta_is_remaining_audio_over_live_sessions_times_pace() -> None:
    tally = Tally(queued=4, queued_audio_s=40.0)
    # two sessions 3 s into 10 s files at pace 2: 4 s of audio left each
    snap = tally.snapshot(
        elapsed_s=3.0, running=[(10.0, 2.0), (10.0, 2.0)], limit=2, ceiling=8, pace=2.0,
        stopping=False,
    )  # fmt: skip
    assert snap.eta_s == pytest.approx((40.0 + 12.0) / (2 * 2.0))
    assert snap.jobs_total == 6 and snap.audio_total_s == 60.0
    one_left = Tally(queued=1, queued_audio_s=30.0).snapshot(
        elapsed_s=0.0, running=[], limit=8, ceiling=8, pace=1.0, stopping=False
    )
    assert one_left.eta_s == 30.0  # one file cannot use eight sessions


def test_outcomes_move_jobs_between_done_and_queued() -> None:
    tally = Tally(queued=3, queued_audio_s=30.0)
    for _ in range(3):
        tally.took(10.0)
    assert (tally.queued, tally.claimed) == (0, 3)
    tally.count(outcome("succeeded"))
    tally.count(outcome("retry"))
    tally.count(outcome("invalid"))
    assert (tally.succeeded, tally.retries, tally.invalid) == (1, 1, 1)
    assert tally.queued == 1 and tally.done_audio_s == 20.0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({}, 0),
        ({"failed": 1}, 1),
        ({"invalid": 1}, 1),
        ({"interrupted": True, "failed": 1}, 130),
        ({"stop_error": AuthenticationError("401"), "interrupted": True}, 3),
        ({"stop_error": ConfigError("bad url")}, 2),
    ],
)
def test_exit_codes(changes: dict[str, object], code: int) -> None:
    tally = Tally(succeeded=2)
    for name, value in changes.items():
        setattr(tally, name, value)
    summary = tally.summary(elapsed_s=1.0, ceiling=8, limit=8, lowest=8, others=0)
    assert summary.exit_code == code
