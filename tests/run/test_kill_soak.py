"""The kill soak: ``jobrunner run`` killed with SIGKILL at random moments, again and again,
under mild chaos, then run once more: every file exact, nothing duplicated, nothing stuck,
and that last run never waited for a lease to expire.

Each kill comes after the run has made some progress: a random number (seeded) of claims and
ended attempts, counted in the database, which the test polls; no fixed sleep decides when.
The lease TTL is far longer than the test may take, so a run that waited for the killed runs'
leases to expire would time out; every lost attempt must have been reaped because its
worker's process was gone.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import Serve, fast_settings
from workerkit import assert_all_exact, enqueue, jobrunner, make_files, poll, profile_file

from jobrunner.server import LocalServer
from jobrunner.store import Store

WAIT_S = 60
#: far beyond the test's own time: no lease of a killed run can expire while it runs
LEASE_TTL_S = 600.0
CHAOS = "upgrade_503=0.05,drop@0.5=0.05,error_500@0.5=0.05"
#: jobs kept queued before each run, so that no run drains the queue before its kill
TOP_UP = 12


def progress(store: Store) -> int:
    """Claims made plus attempts ended (not counting the lost attempts the reaper records)."""
    with store.engine.connect() as conn:
        claims = conn.execute(sa.text("SELECT COALESCE(SUM(attempts), 0) FROM jobs")).scalar_one()
        ended = conn.execute(
            sa.text("SELECT COUNT(*) FROM attempts WHERE outcome <> 'lease_expired'")
        ).scalar_one()
    return int(claims) + int(ended)


def kill_after_progress(store: Store, proc: subprocess.Popen[str], target: int) -> int:
    """SIGKILL ``proc`` once the progress count reaches ``target``; returns how many jobs it
    left ``running``."""
    poll(
        lambda: progress(store) >= target or proc.poll() is not None,
        timeout=WAIT_S,
        what=f"the run to make progress (to {target})",
    )
    assert proc.poll() is None, f"the run ended before its kill: {proc.communicate()}"
    proc.kill()
    proc.communicate(timeout=WAIT_S)
    return store.count(states=["running"])


def soak(
    server: LocalServer, store: Store, url: str, tmp_path: Path, *, kills: int, seed: int
) -> None:
    rng = random.Random(seed)
    # a high budget: the same job may be in flight at many kills (each lost attempt counts,
    # so that a file that kills its worker cannot crash-loop the queue) and hit by chaos too
    settings = fast_settings(server, url, max_attempts=100)
    profile = profile_file(tmp_path, server, concurrency=4, lease_ttl_s=LEASE_TTL_S)
    expected: dict[str, list[str]] = {}
    orphaned = 0
    for n in range(kills):
        if store.count(states=["queued"]) < TOP_UP:
            folder = tmp_path / f"audio{n:02d}"
            expected |= make_files(folder, TOP_UP, start=len(expected))
            enqueue(store, settings, folder)
        target = progress(store) + rng.randint(1, 10)
        orphaned += kill_after_progress(store, jobrunner(url, profile, "run", "-q"), target)
    assert orphaned > 0  # kills landed while jobs ran

    final = jobrunner(url, profile, "run", "-q")
    _, stderr = final.communicate(timeout=WAIT_S)  # waiting for a lease would be 600 s
    assert final.returncode == 0, stderr
    assert store.count(states=["running"]) == 0
    assert_all_exact(store, expected)
    lost = 0
    for job in store.jobs():
        outcomes = [a.outcome for a in store.attempts(job.id)]
        assert outcomes.count("succeeded") == 1 and outcomes[-1] == "succeeded", outcomes
        for a in store.attempts(job.id):
            if a.outcome == "lease_expired":
                assert a.error_kind == "worker_gone"  # reaped at once, never by expiry
                lost += 1
    assert lost == orphaned  # every attempt a kill cut short was recorded, once
    assert server.stats.faults_total > 0  # the chaos was there


@pytest.mark.slow
def test_twenty_kills_then_one_run_leaves_every_file_exact_and_nothing_stuck(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    server = serve(faults=CHAOS, seed=11)
    soak(server, store, db_url, tmp_path, kills=20, seed=20260511)


@pytest.mark.slow
@pytest.mark.postgres
def test_kills_then_one_run_on_postgresql(serve: Serve, tmp_path: Path, pg_database: str) -> None:
    server = serve(faults=CHAOS, seed=12)
    with Store.open(pg_database) as store:
        soak(server, store, pg_database, tmp_path, kills=6, seed=20260512)
