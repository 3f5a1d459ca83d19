"""``run_queue`` against the bundled server, in process: real SQLite, real websockets."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import Serve, fast_settings
from workerkit import assert_all_exact, enqueue, exported, make_files, poll, tone_turns

from jobrunner.config import Settings
from jobrunner.run import JobOutcome, RunOptions, RunSummary, run_queue
from jobrunner.run.worker import Worker
from jobrunner.server.tones import write_wav
from jobrunner.store import Selector, Store


def outcomes_of(
    store: Store, settings: Settings, **kwargs: Any
) -> tuple[RunSummary, list[JobOutcome]]:
    seen: list[JobOutcome] = []
    summary = run_queue(settings, store, on_outcome=seen.append, **kwargs)
    return summary, seen


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_thirty_files_at_concurrency_8_all_exact_turns_in_order(
    serve: Serve, tmp_path: Path, store: Store, db_url: str, loop: str
) -> None:
    expected = make_files(tmp_path / "audio", 30)
    server = serve()
    settings = fast_settings(server, db_url, concurrency=8, loop=loop)
    enqueue(store, settings, tmp_path / "audio")
    loops: set[str] = set()
    summary, seen = outcomes_of(
        store,
        settings,
        on_progress=lambda _: loops.add(type(asyncio.get_running_loop()).__module__),
    )
    assert loops == {"uvloop" if loop == "uvloop" else "asyncio.unix_events"}
    assert summary.exit_code == 0 and summary.counts.succeeded == 30 and summary.counts.retries == 0
    assert_all_exact(store, expected)
    assert Counter(o.outcome for o in seen) == {"succeeded": 30}
    for job in store.jobs():
        [attempt] = store.attempts(job.id)
        assert attempt.outcome == "succeeded" and attempt.error_kind is None
        assert abs((attempt.audio_seconds_sent or 0) - (job.duration_s or 0)) < 0.1
    stats = server.wait_idle()
    assert stats.sessions_total == 30 and 1 < stats.max_sessions_open <= 8


CHAOS = (
    "upgrade_503=0.1,drop@0.8=0.1,error_500@0.5=0.1,error_503@1=0.05,stall=0.05,"
    "slow_drain@3=0.05,limit=30"
)
SESSION_FAULTS = {"drop", "error_500", "error_503", "stall", "slow_drain"}


def test_chaos_every_file_ends_exact_with_each_failed_attempt_recorded(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    """Upgrade 503s, a 429 storm (3 server slots for 8 sessions), drops, error events,
    stalls and drains slower than the timeouts: everything ends succeeded, exactly once."""
    expected = make_files(tmp_path / "audio", 30)
    server = serve(faults=CHAOS, seed=3, max_sessions=3)
    settings = fast_settings(
        server, db_url, max_attempts=40, connect_tries=10, stall_timeout_s=0.5, drain_timeout_s=1.5
    )
    enqueue(store, settings, tmp_path / "audio")
    summary, seen = outcomes_of(store, settings)
    assert summary.exit_code == 0 and summary.counts.succeeded == 30
    assert_all_exact(store, expected)
    stats = server.wait_idle()
    assert stats.rejected.get(429, 0) > 0  # the server refused sessions beyond its 3
    assert summary.counts.rate_limited > 0 and summary.lowest_limit < 8  # the live limit came down
    # every session fault cost exactly one recorded attempt, with its error kind
    failed_rows = [
        a for j in store.jobs() for a in store.attempts(j.id) if a.outcome != "succeeded"
    ]
    assert failed_rows and all(a.outcome == "retry" and a.error_kind for a in failed_rows)
    session_faults = sum(n for label, n in stats.faults_injected.items() if label in SESSION_FAULTS)
    kinds = Counter(a.error_kind for a in failed_rows)
    assert session_faults > 0
    session_kinds = {"connection_lost", "server_error", "stall", "drain"}
    assert sum(kinds[k] for k in session_kinds) == session_faults
    # besides those, only a connect phase that used up its in-place tries (429s and 503s on
    # the upgrade) may end an attempt
    assert set(kinds) <= session_kinds | {"rate_limited", "server_handshake"}
    assert summary.counts.retries == len(failed_rows) == sum(o.outcome == "retry" for o in seen)
    for job in store.jobs():
        rows = store.attempts(job.id)
        assert [a.outcome for a in rows][-1] == "succeeded"
        assert [a.number for a in rows] == list(range(1, len(rows) + 1))


def test_a_4xx_error_event_fails_the_job_at_once_with_the_reason(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 4)
    server = serve(faults="error_400@0.5=1.0")
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "audio")
    summary, seen = outcomes_of(store, settings)
    assert summary.exit_code == 1 and summary.counts.failed == 4 and summary.counts.retries == 0
    assert server.wait_idle().sessions_total == 4  # no retries
    for job in store.jobs():
        assert job.state == "failed" and job.error_kind == "rejected"
        assert job.reason is not None and "400" in job.reason
        [attempt] = store.attempts(job.id)
        assert attempt.outcome == "failed" and attempt.http_status == 400
        assert (attempt.audio_seconds_sent or 0) > 0.4
    assert {o.outcome for o in seen} == {"failed"}


def test_attempts_exhausted_fail_the_job_with_the_last_reason(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 2)
    server = serve(faults="drop@0.5=1.0")
    settings = fast_settings(server, db_url, max_attempts=3)
    enqueue(store, settings, tmp_path / "audio")
    summary, _ = outcomes_of(store, settings)
    assert summary.exit_code == 1 and summary.counts.failed == 2 and summary.counts.retries == 4
    for job in store.jobs():
        assert job.state == "failed" and job.error_kind == "connection_lost"
        assert job.reason is not None and job.reason.endswith("(gave up after 3 attempts)")
        assert [a.outcome for a in store.attempts(job.id)] == ["retry", "retry", "failed"]


def test_run_max_attempts_lowers_the_budget_for_this_run(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 1)
    server = serve(faults="drop@0.5=1.0")
    settings = fast_settings(server, db_url, max_attempts=5)
    enqueue(store, settings, tmp_path / "audio")
    summary, _ = outcomes_of(store, settings, options=RunOptions(max_attempts=1))
    [job] = store.jobs()
    assert job.state == "failed" and job.attempts == 1 and summary.counts.retries == 0


def test_a_file_changed_since_enqueue_fails_for_good_before_any_session(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    """A recorder rotating segments under one name: same size, same length, new audio. It must
    not be transcribed under the old hash; neither may a file that got shorter."""
    folder = tmp_path / "audio"
    expected = make_files(folder, 3, start=1)
    server = serve()
    settings = fast_settings(server, db_url)
    enqueue(store, settings, folder)
    rotated, shorter, intact = sorted(expected)
    before = os.stat(rotated)
    write_wav(rotated, tone_turns(4))  # other words, the same size and frames
    os.utime(rotated, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert os.stat(rotated).st_size == before.st_size
    write_wav(shorter, ["Other"])
    summary, _ = outcomes_of(store, settings)
    assert summary.exit_code == 1 and summary.counts.succeeded == 1
    assert summary.counts.failed == 2 and summary.counts.invalid == 0
    assert summary.counts.retries == 0
    jobs = exported(store)
    assert jobs[intact].job.state == "succeeded"
    for path in (rotated, shorter):
        job = jobs[path].job
        assert job.state == "failed" and job.error_kind == "file_changed", job.reason
        assert job.reason and path in job.reason and "changed since enqueue" in job.reason
        [attempt] = store.attempts(job.id)
        assert attempt.error_kind == "file_changed" and attempt.audio_seconds_sent == 0
        assert jobs[path].transcript is None
    assert server.wait_idle().sessions_total == 1  # only the intact file was streamed


def test_leases_are_renewed_for_sessions_longer_than_the_ttl(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 4)
    server = serve()
    settings = fast_settings(server, db_url, pace=3.0, lease_ttl_s=0.45, concurrency=4)
    enqueue(store, settings, tmp_path / "audio")
    summary, _ = outcomes_of(store, settings)
    assert summary.counts.succeeded == 4 and summary.counts.reaped == 0
    assert_all_exact(store, expected)
    for job in store.jobs():
        assert [a.outcome for a in store.attempts(job.id)] == ["succeeded"]
    assert min(job.duration_s or 0 for job in store.jobs()) / 3.0 > 0.45 * 2  # > 2 TTLs long


def test_limit_and_label_choose_what_a_run_takes(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "a", 4)
    make_files(tmp_path / "b", 3, start=100)
    server = serve()
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "a", label="a")
    enqueue(store, settings, tmp_path / "b", label="b")
    summary, _ = outcomes_of(store, settings, options=RunOptions(label="b", limit=2))
    assert summary.counts.succeeded == 2 and summary.counts.claimed == 2
    assert store.count(states=["succeeded"], label="b") == 2
    assert store.count(states=["queued"], label="a") == 4
    summary, _ = outcomes_of(store, settings, options=RunOptions(label="b"))
    assert summary.counts.succeeded == 1 and store.count(states=["queued"]) == 4


def test_cancelling_a_running_job_stops_its_session_and_writes_nothing(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    folder = tmp_path / "audio"
    folder.mkdir()
    long = write_wav(folder / "long.wav", ["Long one.", " " + "x" * 200, " End."])
    server = serve()
    settings = fast_settings(server, db_url, pace=1.0, lease_ttl_s=0.6)
    enqueue(store, settings, folder)
    [job] = store.jobs()
    seen: list[JobOutcome] = []
    thread = threading.Thread(
        target=run_queue, args=(settings, store), kwargs={"on_outcome": seen.append}
    )
    thread.start()
    poll(lambda: server.stats.audio_seconds > 0.5, timeout=30, what="streaming to begin")
    assert store.cancel(Selector(ids=(job.id,))) == [job.id]
    thread.join(timeout=30)
    assert not thread.is_alive()
    [outcome] = seen
    assert outcome.outcome == "cancelled" and outcome.audio_s < (job.duration_s or 0) - 1
    after = store.job(job.id)
    assert after is not None and after.state == "cancelled"
    assert store.attempts(job.id) == [] and exported(store)[str(long)].transcript is None
    assert server.wait_idle().audio_seconds < (job.duration_s or 0) - 1


def test_stop_with_grace_lets_running_sessions_finish_and_claims_nothing_more(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 10)
    server = serve()
    settings = fast_settings(server, db_url, concurrency=2, grace_seconds=30.0)
    enqueue(store, settings, tmp_path / "audio")
    worker: Worker | None = None

    def first_done(outcome: JobOutcome) -> None:
        assert worker is not None
        worker.request_stop()

    async def main() -> None:
        nonlocal worker
        worker = Worker(settings, store, on_outcome=first_done)
        await worker.run()

    anyio.run(main)
    counts = Counter(j.state for j in store.jobs())
    assert counts["running"] == 0 and counts["succeeded"] in (1, 2)
    assert counts["queued"] == 10 - counts["succeeded"]
    assert all(j.attempts == 0 for j in store.jobs(states=["queued"]))


def test_stop_without_grace_releases_running_jobs_without_spending_an_attempt(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 3)
    server = serve()
    settings = fast_settings(server, db_url, pace=1.0, concurrency=3, grace_seconds=0.0)
    enqueue(store, settings, tmp_path / "audio")

    async def main() -> tuple[int, list[JobOutcome]]:
        seen: list[JobOutcome] = []
        worker = Worker(settings, store, on_outcome=seen.append)
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            streaming = partial(poll, lambda: server.stats.sessions_open >= 3, what="3 sessions")
            await anyio.to_thread.run_sync(streaming)
            worker.request_stop()
        return worker.counts.released, seen

    released, seen = anyio.run(main)
    assert released == 3 and {o.outcome for o in seen} == {"released"}
    for job in store.jobs():
        assert job.state == "queued" and job.attempts == 0 and job.lease_owner is None
        assert store.attempts(job.id) == []
    assert server.wait_idle().close_codes.get(1000, 0) == 0


def test_a_service_that_never_answers_stops_the_run_without_using_up_the_queue(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 5)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = fast_settings(None, db_url, base_url=f"http://127.0.0.1:{port}", connect_tries=2)
    enqueue(store, settings, tmp_path / "audio")
    summary, seen = outcomes_of(store, settings)
    assert summary.exit_code == 2 and summary.stop_error is not None
    assert "check --base-url" in str(summary.stop_error)
    assert [o.outcome for o in seen] == ["released"]  # one probe, given back
    for job in store.jobs():
        assert job.state == "queued" and job.attempts == 0
