"""How many pieces: the share of idle sessions and the piece floor, for run and estimate."""

from __future__ import annotations

import pytest

from jobrunner.config import Settings
from jobrunner.pieces.share import share_of, time_slices
from jobrunner.run import splitting


@pytest.mark.parametrize(
    ("sessions", "busy", "queued", "long_queued", "share"),
    [
        (8, 0, 0, 0, 8),  # one long file alone: all eight sessions
        (8, 0, 1, 1, 4),  # two long files: four each
        (8, 4, 0, 0, 4),  # the other's pieces stream on four: the rest
        (8, 0, 40, 0, 1),  # a full queue keeps every session busy as it is
        (8, 0, 39, 39, 1),  # forty long files: no split
    ],
)
def test_idle_sessions_are_shared_between_the_long_jobs(
    sessions: int, busy: int, queued: int, long_queued: int, share: int
) -> None:
    assert share_of(sessions, busy, queued, long_queued) == share


def test_pieces_are_at_least_half_the_split_threshold() -> None:
    assert time_slices(3600.0, 8, 600.0) == 8
    assert time_slices(1800.0, 8, 600.0) == 6  # 300 s each at least
    assert time_slices(700.0, 8, 600.0) == 2
    assert time_slices(600.0, 8, 600.0) == 1  # not over the threshold
    assert time_slices(3600.0, 1, 600.0) == 1  # no idle session to fill


def test_the_run_cuts_by_the_same_rule_and_not_at_all_with_no_split() -> None:
    settings = Settings()  # split_min_s 600
    assert splitting.time_slices(1800.0, 8, settings) == time_slices(1800.0, 8, 600.0)
    assert splitting.time_slices(3600.0, 8, settings.replace(split=False)) == 1


def test_a_long_stereo_batch_job_is_never_split() -> None:
    from datetime import UTC, datetime

    from jobrunner.store import ClaimedJob

    job = ClaimedJob(
        id=1, path="/calls/a.wav", sha256="a" * 64, format="WAV", subtype="PCM_16",
        sample_rate=8000, channels=2, frames=8000 * 3600, duration_s=3600.0, label=None,
        settings={}, attempt=1, attempts_left=4, lease_owner="me",
        lease_expires_at=datetime.now(UTC),
    )  # fmt: skip
    settings = Settings(channels="split")
    assert splitting.worth_a_look(job, settings)
    assert splitting.worth_a_look(job, settings.replace(endpoint="manual"))
    assert not splitting.worth_a_look(job, settings.replace(endpoint="batch"))
