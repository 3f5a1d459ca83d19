"""Claim exclusivity across OS processes sharing one database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from storekit import new_job

from jobrunner.store import Store

JOBS = 2000
WORKERS = 4
WORKER = Path(__file__).with_name("drain_worker.py")


@pytest.mark.slow
def test_processes_drain_the_queue_each_job_claimed_exactly_once(store_url: str) -> None:
    with Store.open(store_url) as store:
        ids = {r.job_id for r in store.enqueue_many([new_job(i) for i in range(JOBS)])}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), store_url, str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(WORKERS)
    ]
    for proc in procs:  # wait until every process is connected, then start them together
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed: list[list[int]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        claimed.append(json.loads(out))

    counts = Counter(job_id for ids_of_one in claimed for job_id in ids_of_one)
    assert set(counts) == ids
    assert max(counts.values()) == 1
    with Store.open(store_url) as store:
        report = store.status()
        assert report.count("succeeded") == JOBS
        assert {j.attempts for j in store.jobs(states=["succeeded"])} == {1}
        sample = next(iter(ids))
        assert [a.outcome for a in store.attempts(sample)] == ["succeeded"]
