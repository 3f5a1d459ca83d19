"""Many worker processes on one queue: the scale-out contract.

8 processes drain 5,000 jobs from PostgreSQL with no job claimed twice; a worker killed with
SIGKILL while it holds leases shows up in ``status`` as a dead worker and its jobs are reaped
and finished by the others (on every backend).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from storekit import new_job

from jobrunner.store import Store, utcnow

WORKER = Path(__file__).with_name("fleet_worker.py")


def start(mode: str, url: str, number: int, ttl: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, str(number), str(ttl)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.stderr
    return proc


def go(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def finish(procs: list[subprocess.Popen[str]]) -> list[list[int]]:
    claimed = []
    for proc in procs:
        out, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        claimed.append(json.loads(out))
    return claimed


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_drain_5000_jobs_from_postgresql_each_exactly_once(
    pg_database: str,
) -> None:
    with Store.open(pg_database) as store:
        ids = {r.job_id for r in store.enqueue_many([new_job(i) for i in range(5000)])}
    procs = [start("drain", pg_database, seed, 300) for seed in range(8)]
    go(*procs)
    claimed = finish(procs)

    counts = Counter(job_id for one in claimed for job_id in one)
    assert set(counts) == ids and max(counts.values()) == 1
    assert sum(1 for one in claimed if one) >= 2, "the work was not shared"
    with Store.open(pg_database) as store:
        assert store.status().count("succeeded") == 5000
        assert {j.attempts for j in store.jobs(states=["succeeded"])} == {1}


@pytest.mark.slow
def test_a_killed_workers_jobs_are_reaped_and_finished_by_the_others(store_url: str) -> None:
    ttl = 2.0
    with Store.open(store_url) as store:
        ids = {r.job_id for r in store.enqueue_many([new_job(i) for i in range(200)])}
    victim = start("hold", store_url, 5, ttl)
    go(victim)
    assert victim.stdout is not None
    held = json.loads(victim.stdout.readline())
    assert len(held["ids"]) == 5

    with Store.open(store_url) as store:
        [worker] = store.status().workers
    assert (worker.owner, worker.host, worker.pid) == (
        held["owner"],
        socket.gethostname(),
        victim.pid,
    )
    assert worker.live and list(worker.job_ids) == held["ids"]

    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    victim.communicate()
    later = utcnow() + timedelta(seconds=ttl + 1)
    with Store.open(store_url, now=lambda: later) as store:
        [dead] = store.status().workers
    assert dead.owner == held["owner"] and not dead.live

    survivors = [start("drain", store_url, seed, ttl) for seed in range(3)]
    go(*survivors)
    claimed = finish(survivors)

    counts = Counter(job_id for one in claimed for job_id in one)
    assert set(counts) == ids and max(counts.values()) == 1
    with Store.open(store_url) as store:
        report = store.status()
        assert report.count("succeeded") == 200 and report.workers == ()
        for job_id in held["ids"]:
            first, second = store.attempts(job_id)
            assert (first.outcome, first.worker) == ("lease_expired", held["owner"])
            assert second.outcome == "succeeded" and second.worker != held["owner"]
            assert (first.number, second.number) == (1, 2)
            job = store.job(job_id)
            assert job is not None and job.attempts == 2
        others = ids - set(held["ids"])
        assert {j.attempts for j in store.jobs(states=["succeeded"]) if j.id in others} == {1}
