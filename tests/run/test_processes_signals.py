"""``run --processes 2`` as a real process tree: SIGINT/SIGTERM to the parent, kill -9 of a
worker process or of the parent, a 429 storm, a refused key. Nothing is lost, nothing stays
stuck, the exit code says how the run ended.

The tests wait on the database and on the processes; no fixed sleep decides anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import Serve, fast_settings
from workerkit import assert_all_exact, enqueue, jobrunner, make_files, poll, profile_file

from jobrunner.config import Settings
from jobrunner.run import run_queue
from jobrunner.store import Store

WAIT_S = 120


def children(pid: int) -> list[int]:
    """The worker processes of the ``jobrunner run`` with ``pid``."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def owners_running(store: Store) -> int:
    return len({job.lease_owner for job in store.jobs(states=["running"])})


@dataclass
class Streaming:
    """A ``jobrunner run --processes 2`` whose two worker processes are both streaming."""

    proc: subprocess.Popen[str]
    settings: Settings
    expected: dict[str, list[str]]


def streaming(
    serve: Serve, tmp_path: Path, store: Store, db_url: str, files: int, *flags: str, **profile: Any
) -> Streaming:
    expected = make_files(tmp_path / "audio", files)
    server = serve()
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "audio")
    path = profile_file(tmp_path, server, concurrency=4, **profile)
    proc = jobrunner(db_url, path, "run", "--processes", "2", *flags)
    poll(lambda: owners_running(store) == 2, timeout=WAIT_S, what="both processes streaming")
    return Streaming(proc, settings, expected)


def test_sigint_twice_gives_every_running_job_back_then_a_run_completes(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    run = streaming(serve, tmp_path, store, db_url, 10, "--json", pace=1.0, grace_seconds=60.0)
    proc, settings, expected = run.proc, run.settings, run.expected
    proc.send_signal(signal.SIGINT)  # stop claiming, let them finish ...
    assert proc.stderr is not None
    heard = 0
    for line in proc.stderr:  # every worker process heard the first one
        heard += "SIGINT: finishing running sessions" in line
        if heard == 2:
            break
    proc.send_signal(signal.SIGINT)  # ... no: stop now, give them back
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    outcomes = Counter(obj["outcome"] for obj in lines if obj["schema"] == "jobrunner.run/1")
    assert outcomes["released"] >= 2 and set(outcomes) <= {"released", "succeeded"}
    assert lines[-1]["interrupted"] is True and lines[-1]["released"] == outcomes["released"]
    assert store.count(states=["running"]) == 0
    for job in store.jobs(states=["queued"]):
        assert job.attempts == 0 and store.attempts(job.id) == []
    summary = run_queue(settings, store)
    assert summary.exit_code == 0
    assert_all_exact(store, expected)


def test_sigterm_lets_every_process_finish_its_sessions(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    run = streaming(serve, tmp_path, store, db_url, 10, "--json", pace=1.0, grace_seconds=60.0)
    proc, settings, expected = run.proc, run.settings, run.expected
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr
    summary = json.loads(stdout.splitlines()[-1])
    assert summary["interrupted"] is True and summary["released"] == 0
    assert 2 <= summary["succeeded"] < 10
    assert store.count(states=["running"]) == 0
    assert store.count(states=["succeeded"]) == summary["succeeded"]
    assert run_queue(settings, store).exit_code == 0
    assert_all_exact(store, expected)


def test_kill_9_of_a_worker_process_loses_only_its_leases(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    run = streaming(serve, tmp_path, store, db_url, 12, "--json", pace=2.0)
    proc, settings, expected = run.proc, run.settings, run.expected
    victim = children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr  # not a clean run
    assert f"(pid {victim}) ended without finishing (killed by SIGKILL)" in stderr
    # its sibling reaped the dead process's leases at once and ran those jobs too
    assert store.count(states=["running"]) == 0
    assert_all_exact(store, expected)
    summary = json.loads(stdout.splitlines()[-1])
    assert summary["interrupted"] is True and summary["exit_code"] == 130
    assert run_queue(settings, store).counts.claimed == 0  # nothing left over


def test_kill_9_of_the_parent_stops_its_workers_then_a_run_finishes(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    run = streaming(serve, tmp_path, store, db_url, 12, "-q", pace=1.0, grace_seconds=60.0)
    proc, settings, expected = run.proc, run.settings, run.expected
    workers = children(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.communicate(timeout=WAIT_S)
    # orphaned, they stop claiming, finish their sessions and exit
    poll(lambda: not any(alive(pid) for pid in workers), timeout=WAIT_S, what="workers gone")
    assert store.count(states=["running"]) == 0
    assert store.count(states=["queued"]) > 0  # they did not drain the queue on their own
    assert run_queue(settings, store).exit_code == 0
    assert_all_exact(store, expected)


def test_a_429_storm_over_three_processes_lowers_the_one_shared_limit(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 18)
    server = serve(max_sessions=2)  # the service's own limit: 429 above it
    settings = fast_settings(server, db_url, concurrency=9, processes="3")
    enqueue(store, settings, tmp_path / "audio")
    summary = run_queue(settings, store)
    stats = server.wait_idle()
    assert summary.exit_code == 0, summary.stop_error
    assert_all_exact(store, expected)
    refused = stats.rejected.get(429, 0)
    # every 429 reached the parent's one limit (an attempt that ends on one counts it again)
    assert refused > 0 and summary.counts.rate_limited >= refused
    assert summary.ceiling == 9 and summary.lowest_limit <= 4


def test_a_refused_key_in_one_process_stops_them_all_with_exit_3(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 6)
    server = serve(api_key="sk_car_right")
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    profile = profile_file(tmp_path, server, concurrency=4)
    proc = jobrunner(db_url, profile, "run", "--processes", "2", key="sk_car_wrong")
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 3, stderr
    assert "401" in stderr
    assert store.count(states=["queued"]) == 6  # nothing spent, nothing stuck
    assert all(job.attempts == 0 for job in store.jobs())
