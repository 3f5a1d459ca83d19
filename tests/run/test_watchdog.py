"""A session whose file read hangs (a hard-mounted share that stopped answering): its watchdog
abandons it and records a ``stalled`` failure, and its lease is not renewed past the deadline.
A FIFO that nobody writes to is a real read that blocks."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from helpers import Serve, fast_settings
from workerkit import enqueue, make_files

from jobrunner.config import Settings
from jobrunner.run import JobOutcome, run_queue
from jobrunner.run.attempt import Running, vouched
from jobrunner.run.watchdog import session_budget_s
from jobrunner.store import ClaimedJob, Store, utcnow


def test_the_budget_is_connect_plus_audio_at_pace_plus_drain_plus_a_margin() -> None:
    settings = fast_settings(
        connect_tries=3, open_timeout_s=10.0, backoff_cap_s=8.0, rate_limit_factor=4.0,
        pace=2.0, drain_timeout_s=20.0, stall_timeout_s=15.0,
    )  # fmt: skip
    connect = 3 * 10.0 + 2 * 8.0 * 4.0
    stream = 600.0 / 2.0
    assert session_budget_s(600.0, settings) == pytest.approx(
        connect + stream + 20.0 + 15.0 + stream / 10
    )
    # a three-hour file at realtime with the defaults: 3 h plus about 20 minutes
    three_hours = session_budget_s(3 * 3600.0, Settings())
    assert 3 * 3600 < three_hours < 3.5 * 3600


def claimed(job_id: int) -> ClaimedJob:
    return ClaimedJob(
        id=job_id, path=f"/a/{job_id}.wav", sha256=None, format="WAV", subtype="PCM_16",
        sample_rate=16000, channels=1, frames=16000, duration_s=1.0, label=None, settings={},
        attempt=1, attempts_left=4, lease_owner="w", lease_expires_at=utcnow(),
    )  # fmt: skip


def test_a_session_past_its_deadline_is_no_longer_vouched_for() -> None:
    running = {
        1: Running(claimed(1), anyio.Event(), started=0.0, deadline=10.0),
        2: Running(claimed(2), anyio.Event(), started=0.0, deadline=30.0),
        3: Running(claimed(3), anyio.Event(), started=0.0),  # not started: no deadline yet
    }
    assert vouched(running, 5.0) == {1, 2, 3}
    assert vouched(running, 10.0) == {2, 3}
    assert vouched(running, 1e9) == {3} and running[3].deadline == math.inf


@pytest.fixture
def fifo_in_place_of(tmp_path: Path) -> Iterator[list[Path]]:
    """Files to replace with FIFOs; afterwards a writer opens and closes each, so the threads
    left blocked in ``open`` finish."""
    replaced: list[Path] = []
    yield replaced
    for path in replaced:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader blocked on it
            continue
        os.close(fd)


def test_a_read_that_hangs_is_abandoned_recorded_as_stalled_and_the_run_ends(
    serve: Serve, tmp_path: Path, store_url: str, fifo_in_place_of: list[Path]
) -> None:
    [path] = make_files(tmp_path / "audio", 1)
    server = serve()
    settings = fast_settings(
        server, store_url, max_attempts=2, connect_tries=1, open_timeout_s=0.5,
        stall_timeout_s=0.5, drain_timeout_s=0.5,
    )  # fmt: skip
    seen: list[JobOutcome] = []
    with Store.open(store_url) as store:
        enqueue(store, settings, tmp_path / "audio")
        os.unlink(path)
        os.mkfifo(path)  # opening it for reading blocks until a writer comes: none will
        fifo_in_place_of.append(Path(path))
        summary = run_queue(settings, store, on_outcome=seen.append)
        [job] = store.jobs()
        attempts = store.attempts(job.id)
    assert [(o.outcome, o.error_kind) for o in seen] == [
        ("retry", "stalled"),
        ("failed", "stalled"),
    ]
    assert summary.counts.failed == 1 and summary.counts.cancelled == 0
    assert job.state == "failed" and job.lease_owner is None
    assert job.reason is not None and "session stalled" in job.reason
    assert [(a.outcome, a.error_kind) for a in attempts] == [
        ("retry", "stalled"),
        ("failed", "stalled"),
    ]
    assert server.wait_idle().sessions_total == 0
