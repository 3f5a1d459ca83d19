"""``run --processes``: several worker processes drain one queue exactly once, as one run.

Library and CLI runs against the bundled server (tones engine, exact transcripts). The
signal, kill -9 and 429 tests are in test_processes_signals.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from helpers import Serve, fast_settings
from workerkit import assert_all_exact, enqueue, jobrunner, make_files, profile_file

from jobrunner.run import RunSnapshot, run_queue
from jobrunner.store import Store

WAIT_S = 120


def test_two_processes_transcribe_every_file_exactly_once(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 12)
    server = serve()
    settings = fast_settings(server, db_url, concurrency=4, processes="2")
    enqueue(store, settings, tmp_path / "audio")
    outcomes: list[str] = []
    snapshots: list[RunSnapshot] = []
    summary = run_queue(
        settings,
        store,
        on_outcome=lambda o: outcomes.append(o.outcome),
        on_progress=snapshots.append,
    )
    assert summary.exit_code == 0, summary.stop_error
    assert summary.counts.succeeded == summary.counts.claimed == 12
    assert summary.ceiling == 4
    assert outcomes == ["succeeded"] * 12
    assert_all_exact(store, expected)
    owners = {a.worker for job in store.jobs() for a in store.attempts(job.id)}
    assert len(owners) == 2  # both processes claimed, each under its own owner
    assert snapshots[-1].counts.jobs_done == 12 and snapshots[-1].limit <= 4
    assert max(s.running for s in snapshots) <= 4
    assert server.wait_idle().max_sessions_open <= 4


def test_cli_json_summary_and_exit_code_with_processes(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 8)
    server = serve()
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    profile = profile_file(tmp_path, server, concurrency=4)
    proc = jobrunner(db_url, profile, "run", "--processes", "2", "--json")
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    schemas = Counter(obj["schema"] for obj in lines)
    assert schemas == {"jobrunner.run/1": 8, "jobrunner.run-summary/1": 1}
    summary = lines[-1]
    assert summary["schema"] == "jobrunner.run-summary/1"
    assert summary["succeeded"] == summary["claimed"] == 8 and summary["exit_code"] == 0
    assert summary["concurrency"] == 4
    assert {obj["path"] for obj in lines[:-1]} == set(expected)
    assert_all_exact(store, expected)


@pytest.mark.postgres
def test_two_processes_on_postgresql(serve: Serve, tmp_path: Path, pg_database: str) -> None:
    expected = make_files(tmp_path / "audio", 10)
    server = serve()
    settings = fast_settings(server, pg_database, concurrency=4, processes="2")
    with Store.open(pg_database) as store:
        enqueue(store, settings, tmp_path / "audio")
        summary = run_queue(settings, store)
        assert summary.exit_code == 0, summary.stop_error
        assert summary.counts.succeeded == 10
        assert_all_exact(store, expected)


def test_a_failed_job_in_one_process_makes_the_run_exit_1(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 6)
    server = serve()
    settings = fast_settings(server, db_url, concurrency=4, processes="2")
    enqueue(store, settings, tmp_path / "audio")
    changed = sorted(expected)[0]
    Path(changed).write_bytes(Path(changed).read_bytes()[:-4000])  # not the enqueued file now
    failed: list[str] = []
    summary = run_queue(
        settings,
        store,
        on_outcome=lambda o: failed.append(o.path) if o.outcome == "failed" else None,
    )
    assert summary.exit_code == 1
    assert failed == [changed] and summary.counts.failed == 1 and summary.counts.succeeded == 5
