"""Run figures: what progress shows (ETA from pacing and live concurrency) and exit codes."""

from __future__ import annotations

import pytest

from jobrunner.errors import AuthenticationError, ConfigError, JobrunnerError
from jobrunner.run import Counts, JobOutcome, Outcome, RunSnapshot, RunSummary


def outcome(kind: Outcome, seconds: float = 10.0) -> JobOutcome:
    return JobOutcome(1, "/a.wav", None, kind, 1, seconds, seconds, 1.0)


def test_eta_is_remaining_audio_over_live_sessions_times_pace() -> None:
    counts = Counts(queued=4, queued_audio_s=40.0)
    # two sessions 3 s into 10 s files at pace 2: 4 s of audio left each
    snap = RunSnapshot.of(
        counts, elapsed_s=3.0, running=[(10.0, 2.0), (10.0, 2.0)], limit=2, ceiling=8, pace=2.0,
        stopping=False,
    )  # fmt: skip
    assert snap.eta_s == pytest.approx((40.0 + 12.0) / (2 * 2.0))
    assert snap.jobs_total == 6 and snap.audio_total_s == 60.0
    one_left = RunSnapshot.of(
        Counts(queued=1, queued_audio_s=30.0),
        elapsed_s=0.0, running=[], limit=8, ceiling=8, pace=1.0, stopping=False,
    )  # fmt: skip
    assert one_left.eta_s == 30.0  # one file cannot use eight sessions
    assert RunSnapshot.of(
        Counts(succeeded=3), elapsed_s=9.0, running=[], limit=8, ceiling=8, pace=1.0,
        stopping=False,
    ).eta_s == 0.0  # fmt: skip


def test_outcomes_move_jobs_between_done_and_queued() -> None:
    counts = Counts(queued=3, queued_audio_s=30.0)
    for _ in range(3):
        counts = counts.took(10.0)
    assert (counts.queued, counts.claimed, counts.mean_claimed_s) == (0, 3, 10.0)
    for kind in ("succeeded", "retry", "invalid", "released", "cancelled", "lost"):
        counts = counts.counted(outcome(kind))
    assert (counts.succeeded, counts.retries, counts.invalid) == (1, 1, 1)
    assert (counts.released, counts.cancelled, counts.jobs_done) == (1, 2, 2)
    # a retry and a release go back to the queue; the others are done or gone
    assert counts.queued == 2 and counts.queued_audio_s == 20.0
    assert counts.done_audio_s == 20.0


def summary(counts: Counts, stop_error: JobrunnerError | None, interrupted: bool) -> RunSummary:
    return RunSummary(
        counts=counts,
        elapsed_s=1.0,
        ceiling=8,
        final_limit=8,
        lowest_limit=8,
        interrupted=interrupted,
        stop_error=stop_error,
        others_running=0,
    )


@pytest.mark.parametrize(
    ("counts", "stop_error", "interrupted", "code"),
    [
        (Counts(succeeded=2), None, False, 0),
        (Counts(succeeded=2, failed=1), None, False, 1),
        (Counts(succeeded=2, invalid=1), None, False, 1),
        (Counts(failed=1), None, True, 130),
        (Counts(), AuthenticationError("401"), True, 3),
        (Counts(), ConfigError("bad url"), False, 2),
    ],
)
def test_exit_codes(
    counts: Counts, stop_error: JobrunnerError | None, interrupted: bool, code: int
) -> None:
    assert summary(counts, stop_error, interrupted).exit_code == code
