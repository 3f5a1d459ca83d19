"""``jobrunner run``/``retry``/``cancel`` through the CLI, in process (click's runner)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from helpers import Serve, fast_settings, invoke
from workerkit import enqueue, exported, make_files, profile_file

from jobrunner.store import Store

#: the CLI as a user runs it; an exception inside jobrunner fails the test, not "exit 1"
jobrunner = partial(invoke, catch_exceptions=False)


def test_a_wrong_key_stops_the_run_fast_with_exit_3_and_leaves_jobs_queued(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 12)
    server = serve(api_key="the-right-key-123")
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "audio")
    profile = profile_file(tmp_path, server, concurrency=8)
    result = jobrunner(
        db_url,
        "--profile",
        str(profile),
        "run",
        "--no-progress",
        env={"CARTESIA_API_KEY": "a-wrong-key-456"},
    )
    assert result.exit_code == 3
    output = result.output
    errors = [line for line in output.splitlines() if line.startswith("jobrunner: error:")]
    assert len(errors) == 1 and "401" in errors[0]
    assert "a-wrong-key-456" not in output and "the-right-key-123" not in output
    for job in store.jobs():
        assert job.state == "queued" and job.attempts == 0
        assert store.attempts(job.id) == []
    stats = server.wait_idle()
    assert stats.upgrades <= 2 and stats.rejected == {401: stats.upgrades}


def test_a_base_url_with_no_endpoint_stops_the_run_with_exit_2_naming_it(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 6)
    server = serve()
    settings = fast_settings(server, db_url)
    enqueue(store, settings, tmp_path / "audio")
    profile = profile_file(tmp_path, server, concurrency=4)
    wrong = f"{server.url}/v9"  # a path prefix the service does not have: 404 on the upgrade
    result = jobrunner(
        db_url, "--profile", str(profile), "run", "--no-progress", "--base-url", wrong
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("jobrunner: error:")]
    assert len(errors) == 1 and "404" in errors[0] and "/v9/stt/turns/websocket" in errors[0]
    jobs = store.jobs()
    assert [job.state for job in jobs] == ["queued"] * 6  # nothing failed for the URL's fault
    assert sum(job.attempts for job in jobs) <= 1


def test_json_lines_one_per_outcome_then_the_summary_and_exit_0(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 3)
    server = serve()
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    result = jobrunner(db_url, "--profile", str(profile_file(tmp_path, server)), "run", "--json")
    assert result.exit_code == 0
    *lines, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert summary["schema"] == "jobrunner.run-summary/1" and summary["succeeded"] == 3
    assert summary["aligned"] == 3 and summary["uncovered"] == 0  # tones map as speech
    for line in lines:
        assert line["schema"] == "jobrunner.run/1" and line["outcome"] == "succeeded"
        assert line["transcript"] == "".join(expected[line["path"]])
        assert line["turns"] == len(expected[line["path"]]) and line["attempt"] == 1


def test_forced_progress_renders_and_quiet_prints_nothing(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 2)
    server = serve()
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    profile = profile_file(tmp_path, server)
    result = jobrunner(db_url, "--profile", str(profile), "run", "--progress")
    assert result.exit_code == 0
    assert "files" in result.output and "2/2" in result.output
    assert "run: 2 succeeded" in result.output
    quiet = jobrunner(db_url, "--profile", str(profile), "run", "-q")
    assert quiet.exit_code == 0 and quiet.output == ""


def test_retry_gives_failed_jobs_a_fresh_budget_and_force_keeps_the_old_transcript(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_files(tmp_path / "audio", 2)
    first, second = sorted(expected)
    failing = serve(faults="error_400@0.3=1.0")
    enqueue(store, fast_settings(failing, db_url), tmp_path / "audio")
    (tmp_path / "bad").mkdir()
    bad_profile = profile_file(tmp_path / "bad", failing)
    good = serve()
    good_profile = profile_file(tmp_path, good)

    assert jobrunner(db_url, "--profile", str(bad_profile), "run", "-q").exit_code == 1
    assert {j.state for j in store.jobs()} == {"failed"}
    # a failed job: `retry` queues it again with a fresh budget, the next run does it
    out = jobrunner(db_url, "--profile", str(good_profile), "retry", first)
    assert "1 jobs queued again" in out.output
    assert jobrunner(db_url, "--profile", str(good_profile), "run", "-q").exit_code == 0
    jobs = exported(store)
    assert jobs[first].job.state == "succeeded" and jobs[second].job.state == "failed"
    assert jobs[first].transcript == "".join(expected[first])
    # a forced re-run that fails leaves the old transcript in place
    done_id = str(jobs[first].job.id)
    out = jobrunner(db_url, "--profile", str(good_profile), "retry", "--force", done_id)
    assert "1 jobs queued again" in out.output
    assert jobrunner(db_url, "--profile", str(bad_profile), "run", "-q").exit_code == 1
    jobs = exported(store)
    assert jobs[first].job.state == "failed"
    assert jobs[first].transcript == "".join(expected[first])
    assert jobs[first].transcript_attempt == 2
    # forced again against a good server: the new attempt's transcript replaces it
    jobrunner(db_url, "--profile", str(good_profile), "retry", "--force", done_id)
    result = jobrunner(db_url, "--profile", str(good_profile), "run", "-q", "--retry-failed")
    assert result.exit_code == 0
    jobs = exported(store)
    assert {e.job.state for e in jobs.values()} == {"succeeded"}
    assert jobs[first].transcript_attempt == 4 and jobs[first].transcript == "".join(
        expected[first]
    )
    assert jobs[second].transcript == "".join(expected[second])


def test_retry_and_cancel_select_by_state_label_id_and_path(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "a", 3)
    settings = fast_settings(None, db_url)
    enqueue(store, settings, tmp_path / "a", label="a")
    profile = tmp_path / "p.toml"
    profile.write_text("lease_ttl_s = 3.0\n")
    ids = [j.id for j in store.jobs()]
    paths = [j.path for j in store.jobs()]
    nothing = jobrunner(db_url, "--profile", str(profile), "cancel")
    assert nothing.exit_code == 2
    out = jobrunner(db_url, "--profile", str(profile), "cancel", str(ids[0]), paths[1])
    assert "2 jobs cancelled" in out.output
    assert [j.state for j in store.jobs()] == ["cancelled", "cancelled", "queued"]
    out = jobrunner(db_url, "--profile", str(profile), "retry")  # failed only, by default
    assert "no job matched" in out.output
    out = jobrunner(db_url, "--profile", str(profile), "retry", "--cancelled", "--label", "other")
    assert "no job matched" in out.output
    out = jobrunner(db_url, "--profile", str(profile), "retry", "--cancelled", "--label", "a")
    assert "2 jobs queued again" in out.output
    out = jobrunner(db_url, "--profile", str(profile), "cancel", "--all-queued")
    assert "3 jobs cancelled" in out.output


@pytest.mark.parametrize("command", ["run", "retry", "cancel"])
def test_help_shows_examples(command: str) -> None:
    result = jobrunner(None, command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output
    if command == "run":
        assert "130 interrupted" in result.output and "3 authentication" in result.output
