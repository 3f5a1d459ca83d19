"""``jobrunner run`` as a real process: SIGINT and kill -9 mid-batch lose nothing.

The tests wait on the database (running jobs, stored turns) and on lease expiry times read
from it; no fixed sleep decides anything.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from helpers import Serve, fast_settings
from workerkit import (
    assert_all_exact,
    enqueue,
    exported,
    jobrunner,
    make_files,
    poll,
    profile_file,
)

from jobrunner.run import run_queue
from jobrunner.store import Store

WAIT_S = 60


def test_sigint_releases_running_jobs_without_spending_an_attempt_then_run_completes(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 8)
    server = serve()
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "audio")
    # sessions of about 3 s (pace 1): the first Ctrl-C lands while they stream
    profile = profile_file(tmp_path, server, pace=1.0, concurrency=3, grace_seconds=60.0)
    proc = jobrunner(db_url, str(profile), "run", "--json")
    poll(lambda: store.count(states=["running"]) >= 2, timeout=WAIT_S, what="running jobs")
    proc.send_signal(signal.SIGINT)  # stop claiming, let them finish ...
    assert proc.stderr is not None
    for line in proc.stderr:  # (two signals sent at once would merge into one)
        if "SIGINT: finishing running sessions" in line:
            break
    proc.send_signal(signal.SIGINT)  # ... no: stop now, give them back
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    outcomes = Counter(obj["outcome"] for obj in lines if obj["schema"] == "jobrunner.run/1")
    assert outcomes["released"] >= 1 and set(outcomes) <= {"released", "succeeded"}
    states = Counter(j.state for j in store.jobs())
    assert states["running"] == 0 and states["queued"] >= outcomes["released"]
    for job in store.jobs(states=["queued"]):
        assert job.attempts == 0 and store.attempts(job.id) == []
    # the next run completes them; the released attempts were never counted
    summary = run_queue(settings, store)
    assert summary.exit_code == 0
    assert_all_exact(store, expected)
    for job in store.jobs():
        assert [a.outcome for a in store.attempts(job.id)] == ["succeeded"]


def test_kill_9_mid_batch_then_run_again_finishes_everything(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 10)
    server = serve()
    settings = fast_settings(server, db_url, lease_ttl_s=1.5)
    enqueue(store, settings, tmp_path / "audio")
    profile = profile_file(tmp_path, server, pace=2.0, concurrency=3, lease_ttl_s=1.5)
    proc = jobrunner(db_url, str(profile), "run", "-q")

    def mid_batch() -> bool:
        done = store.count(states=["succeeded"])
        return done >= 1 and store.count(states=["running"]) >= 1 and done < 8

    poll(mid_batch, timeout=WAIT_S, what="a stored transcript and running jobs")
    proc.kill()
    proc.communicate(timeout=WAIT_S)
    orphans = store.jobs(states=["running"])
    assert orphans, "the killed worker held leases"
    latest = max(j.lease_expires_at for j in orphans if j.lease_expires_at is not None)
    poll(lambda: datetime.now(UTC) > latest, timeout=WAIT_S, what="the leases to expire")
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.counts.reaped >= len(orphans)
    assert_all_exact(store, expected)
    assert store.count(states=["running"]) == 0
    for job in orphans:
        outcomes = [a.outcome for a in store.attempts(job.id)]
        assert outcomes[0] == "lease_expired" and outcomes[-1] == "succeeded"  # it counted
    turns = Counter((e.job.id, t.index) for e in exported(store).values() for t in e.turns)
    assert max(turns.values()) == 1
