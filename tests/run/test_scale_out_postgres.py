"""Scale-out end to end: three ``jobrunner run`` processes share one PostgreSQL queue.

The bundled server (tones engine, so every transcript is known exactly) serves all three. The
test waits, by polling the database, until ``status`` shows the three processes as live
workers holding sessions at the same moment, then checks every job succeeded exactly once,
with its exact transcript, and that each process did a share of the work.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import Serve, fast_settings
from workerkit import (
    assert_all_exact,
    enqueue,
    jobrunner,
    make_files,
    poll,
    profile_file,
)

from jobrunner.store import Store
from jobrunner.store.reports import parse_owner

WORKERS = 3
FILES = 24


@pytest.mark.postgres
@pytest.mark.slow
def test_three_run_processes_share_one_postgresql_queue(
    serve: Serve, tmp_path: Path, pg_database: str
) -> None:
    expected = make_files(tmp_path / "audio", FILES)
    server = serve()
    # pace 2: a 3 s file holds a session for about 1.5 s, long enough for the three
    # processes (started one after another) to overlap
    timing = {"pace": 2.0, "concurrency": 2, "lease_ttl_s": 5.0}
    settings = fast_settings(server, pg_database, **timing)
    profile = profile_file(tmp_path, server, **timing)
    with Store.open(pg_database) as store:
        enqueue(store, settings, tmp_path / "audio")
        procs = [jobrunner(pg_database, profile, "run", "-q") for _ in range(WORKERS)]
        pids = {proc.pid for proc in procs}

        def all_live() -> bool:
            workers = store.status().workers
            return {w.pid for w in workers if w.live} == pids

        poll(all_live, timeout=60, what="the three workers holding sessions at once")
        for proc in procs:
            _, stderr = proc.communicate(timeout=90)
            assert proc.returncode == 0, stderr

        assert_all_exact(store, expected)
        report = store.status()
        assert report.count("succeeded") == FILES and report.workers == ()
        per_process: Counter[int | None] = Counter()
        for job in store.jobs():
            [attempt] = store.attempts(job.id)  # exactly once: one attempt, and it succeeded
            assert attempt.outcome == "succeeded" and job.attempts == 1
            host, pid = parse_owner(attempt.worker or "")
            assert host is not None
            per_process[pid] += 1
    assert set(per_process) == pids and sum(per_process.values()) == FILES
