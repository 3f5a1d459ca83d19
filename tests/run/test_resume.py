"""Resume after a crash: ``jobrunner run`` again simply works.

On the same machine the leases of a killed ``run`` are reaped at once (its process is gone);
leases held by live processes or by other hosts are waited for, and an expiring one is reaped
and its job run; ``--no-wait`` ends at once, as before. Real processes, the real CLI, the
bundled server; the tests wait on the database or the process, never on a fixed sleep.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import Serve, fast_settings, invoke
from workerkit import (
    assert_all_exact,
    enqueue,
    exported,
    jobrunner,
    make_files,
    poll,
    profile_file,
)

from jobrunner.store import Store

WAIT_S = 60
#: as long as the default: a run that waited for these leases would take a minute
LONG_TTL = 60.0
ELSEWHERE = "host-b:1234:abcd1234"  # an owner on another host: never judged gone from here

Queued = Callable[..., tuple[dict[str, list[str]], Path]]


@pytest.fixture
def queued(serve: Serve, tmp_path: Path, store: Store, db_url: str) -> Queued:
    """``queued(n, **profile)``: ``n`` files queued (path -> expected turns), and a profile
    for runs against the bundled server with a long lease TTL and ``profile`` changes."""
    server = serve()

    def make(n: int, **changes: float) -> tuple[dict[str, list[str]], Path]:
        expected = make_files(tmp_path / "audio", n)
        enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
        return expected, profile_file(tmp_path, server, lease_ttl_s=LONG_TTL, **changes)

    return make


def test_after_kill_9_the_next_run_on_this_machine_takes_the_jobs_at_once(
    queued: Queued, store: Store, db_url: str
) -> None:
    expected, profile = queued(10, pace=2.0, concurrency=3)
    proc = jobrunner(db_url, profile, "run", "-q")

    def mid_batch() -> bool:
        done = store.count(states=["succeeded"])
        return done >= 1 and store.count(states=["running"]) >= 1 and done < 8

    poll(mid_batch, timeout=WAIT_S, what="a stored transcript and running jobs")
    proc.kill()
    proc.communicate(timeout=WAIT_S)
    orphans = store.jobs(states=["running"])
    assert orphans, "the killed run held leases"
    expiry = min(j.lease_expires_at for j in orphans if j.lease_expires_at is not None)

    result = invoke(db_url, "--profile", str(profile), "run", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "leases" not in result.output  # nothing was waited for, nothing left behind
    assert datetime.now(UTC) < expiry  # done before the dead run's leases would expire
    assert_all_exact(store, expected)
    assert store.count(states=["running"]) == 0
    for job in orphans:
        lost, *rest = store.attempts(job.id)
        assert (lost.outcome, lost.error_kind) == ("lease_expired", "worker_gone")
        assert [a.outcome for a in rest] == ["succeeded"]  # the lost attempt counted
    turns = Counter((e.job.id, t.index) for e in exported(store).values() for t in e.turns)
    assert max(turns.values()) == 1


def test_jobs_leased_by_another_host_are_waited_for_then_reaped_and_run(
    queued: Queued, store: Store, db_url: str
) -> None:
    expected, profile = queued(3)
    theirs = store.claim(2, ELSEWHERE, 1.5)  # a worker elsewhere that then went silent

    result = invoke(db_url, "--profile", str(profile), "run", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "run: waiting for 2 jobs leased by host-b:1234 (expire in " in result.output
    assert "running under other workers' leases" not in result.output
    assert_all_exact(store, expected)
    for job in theirs:
        lost, done = store.attempts(job.id)
        assert (lost.outcome, lost.error_kind, lost.worker) == (
            "lease_expired",
            "lease_expired",
            ELSEWHERE,
        )
        assert (done.outcome, done.number) == ("succeeded", 2)


def test_jobs_of_a_live_run_on_this_machine_are_waited_for_not_taken(
    queued: Queued, store: Store, db_url: str
) -> None:
    # the first run streams both files at realtime, a few seconds each
    expected, slow = queued(2, pace=1.0, concurrency=2)
    first = jobrunner(db_url, slow, "run", "-q")
    poll(lambda: store.count(states=["running"]) == 2, timeout=WAIT_S, what="both claimed")

    result = invoke(db_url, "--profile", str(slow), "run", "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"run: waiting for 2 jobs leased by {socket.gethostname()}:{first.pid} (expire in " in (
        result.output
    )
    assert "run: 0 succeeded" in result.output  # it took nothing from the live run
    _, stderr = first.communicate(timeout=WAIT_S)
    assert first.returncode == 0, stderr
    assert_all_exact(store, expected)
    for job in store.jobs():
        assert [a.outcome for a in store.attempts(job.id)] == ["succeeded"]


def test_no_wait_ends_at_once_leaving_other_workers_jobs_to_them(
    queued: Queued, store: Store, db_url: str
) -> None:
    _, profile = queued(3)
    theirs = store.claim(2, ELSEWHERE, LONG_TTL)

    result = invoke(db_url, "--profile", str(profile), "run", "--no-progress", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "waiting for" not in result.output
    assert (
        "run: 2 jobs are running under other workers' leases; if that worker died, run again "
        "once its leases have expired"
    ) in result.output
    assert store.count(states=["succeeded"]) == 1
    for job in theirs:
        view = store.job(job.id)
        assert view is not None and view.state == "running" and view.lease_owner == ELSEWHERE
