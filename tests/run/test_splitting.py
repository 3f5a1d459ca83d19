"""When a job becomes pieces: the share of idle sessions and the piece floor."""

from __future__ import annotations

import pytest

from jobrunner.config import Settings
from jobrunner.run.splitting import share_of, time_slices


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
    settings = Settings()  # split_min_s 600
    assert time_slices(3600.0, 8, settings) == 8
    assert time_slices(1800.0, 8, settings) == 6  # 300 s each at least
    assert time_slices(700.0, 8, settings) == 2
    assert time_slices(600.0, 8, settings) == 1  # not over the threshold
    assert time_slices(3600.0, 8, settings.replace(split=False)) == 1
