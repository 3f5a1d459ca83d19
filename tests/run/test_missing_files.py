"""Files a run cannot open: moved, a share unmounted, a machine without the mount. Such a file
fails its attempt (retryable, no session opened), never turns its job ``invalid``; and a worker
that finds most files missing stops instead of burning through the queue."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from helpers import Serve, fast_settings, invoke
from workerkit import enqueue, exported, make_files, profile_file

from jobrunner.run import JobOutcome, run_queue
from jobrunner.store import Store


def test_a_file_missing_at_run_time_fails_its_attempt_and_is_done_once_it_is_back(
    serve: Serve, tmp_path: Path, store_url: str
) -> None:
    share, unmounted = tmp_path / "share", tmp_path / "unmounted"
    [path] = make_files(share, 1)
    server = serve()
    settings = fast_settings(server, store_url, max_attempts=3)
    seen: list[JobOutcome] = []

    def remount(outcome: JobOutcome) -> None:  # the share comes back after the first attempt
        seen.append(outcome)
        if unmounted.exists():
            unmounted.rename(share)

    with Store.open(store_url) as store:
        enqueue(store, settings, share)
        share.rename(unmounted)
        summary = run_queue(settings, store, on_outcome=remount)
        [job] = store.jobs()
        attempts = store.attempts(job.id)
        exported_job = exported(store)[path]
    assert [o.outcome for o in seen] == ["retry", "succeeded"]
    assert seen[0].error_kind == "file_unavailable" and seen[0].reason == f"{path}: file not found"
    assert summary.exit_code == 0 and summary.counts.invalid == 0
    assert job.state == "succeeded" and exported_job.transcript
    assert [(a.outcome, a.error_kind) for a in attempts] == [
        ("retry", "file_unavailable"),
        ("succeeded", None),
    ]
    assert attempts[0].audio_seconds_sent == 0
    assert server.wait_idle().sessions_total == 1  # no session for the missing file


def test_a_file_that_stays_missing_fails_after_its_attempts_not_as_invalid(
    serve: Serve, tmp_path: Path, store_url: str
) -> None:
    [path] = make_files(tmp_path / "audio", 1)
    server = serve()
    settings = fast_settings(server, store_url, max_attempts=2)
    with Store.open(store_url) as store:
        enqueue(store, settings, tmp_path / "audio")
        Path(path).unlink()
        summary = run_queue(settings, store)
        [job] = store.jobs()
    assert summary.counts.failed == 1 and summary.counts.invalid == 0
    assert job.state == "failed" and job.error_kind == "file_unavailable"
    assert job.reason == f"{path}: file not found (gave up after 2 attempts)"
    assert server.wait_idle().sessions_total == 0


def test_a_worker_that_cannot_see_the_folder_stops_with_exit_2_and_the_jobs_stay_queued(
    serve: Serve, tmp_path: Path
) -> None:
    folder = tmp_path / "mnt" / "calls"
    make_files(folder, 12)
    server = serve()
    db_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with Store.open(db_url) as store:
        enqueue(store, fast_settings(server, db_url), folder)
    folder.rename(tmp_path / "elsewhere")  # this machine does not have the mount
    profile = profile_file(tmp_path, server, concurrency=4)
    result = invoke(db_url, "--profile", str(profile), "run", "--no-progress")
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("jobrunner: error")]
    assert f"this machine cannot see {folder}: 9 of the" in error
    assert "files it tried last were missing or unreadable; the jobs stay queued" in error
    with Store.open(db_url) as store:
        jobs = store.jobs()
        tried = [a for job in jobs for a in store.attempts(job.id)]
    assert Counter(job.state for job in jobs) == {"queued": 12}
    assert len(tried) == 9 and {a.error_kind for a in tried} == {"file_unavailable"}
    assert server.wait_idle().sessions_total == 0
