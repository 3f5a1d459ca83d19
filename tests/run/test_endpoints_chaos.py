"""Manual and Batch end to end: ``jobrunner run`` against ``jobrunner serve`` (tones engine),
clean and with the server's injected faults. Every job must end with its exact transcript, or
fail the way the retry policy says, with the reason recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Serve, fast_settings, invoke
from workerkit import assert_all_exact, enqueue, exported, make_files

from jobrunner.config import Settings
from jobrunner.run import run_queue
from jobrunner.store import Store

FILES = 3


def setup(
    serve: Serve, store: Store, db_url: str, tmp_path: Path, endpoint: str, faults: str = ""
) -> tuple[Settings, dict[str, list[str]]]:
    server = serve(faults=faults) if faults else serve()
    expected = make_files(tmp_path / "audio", FILES)
    settings = fast_settings(server, db_url, endpoint=endpoint, pace=40.0)
    enqueue(store, settings, tmp_path / "audio")
    return settings, expected


def assert_exact_transcripts(store: Store, expected: dict[str, list[str]]) -> None:
    """Each job's transcript is its file's text exactly (turns may be cut differently)."""
    jobs = exported(store)
    assert {p: j.transcript for p, j in jobs.items()} == {
        p: "".join(texts) for p, texts in expected.items()
    }
    assert all(j.job.state == "succeeded" for j in jobs.values())


def attempt_kinds(store: Store) -> list[tuple[str | None, str | None]]:
    return [
        (a.endpoint, a.error_kind)
        for e in exported(store).values()
        for a in store.attempts(e.job.id)
    ]


def test_manual_runs_every_file_to_its_exact_transcript(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    settings, expected = setup(serve, store, db_url, tmp_path, "manual")
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.counts.succeeded == len(expected)
    assert_exact_transcripts(store, expected)
    job = next(iter(exported(store).values()))
    assert {t.ended_by for t in job.turns} <= {"flush_done", "done"}
    assert all(t.words for t in job.turns if t.transcript.strip())  # the tones engine gives words
    assert set(attempt_kinds(store)) == {("manual", None)}


def test_manual_keeps_the_second_part_of_a_split_turn(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    expected = make_files(tmp_path / "audio", 1)  # file 0: "File 000.", " Wait," " ok.", ...
    settings = fast_settings(serve(), db_url, endpoint="manual", pace=40.0)
    enqueue(store, settings, tmp_path / "audio")
    assert run_queue(settings, store).exit_code == 0
    assert_exact_transcripts(store, expected)


@pytest.mark.parametrize(
    ("faults", "kinds", "said"),
    [
        # a drop mid-stream: the connection is lost, a new session streams the file again
        ("drop@0.5=first:2", {"connection_lost"}, "connection lost"),
        # finals but never done nor a close: the drain deadline ends it (stall or drain)
        ("no_done=first:1", {"drain", "stall"}, "after our close"),
        # an interim after the last final of the close: a bad answer
        ("late_interim=first:1", {"protocol"}, "never finalized"),
    ],
)
def test_manual_faults_are_retried_to_the_exact_transcript(
    serve: Serve,
    store: Store,
    db_url: str,
    tmp_path: Path,
    faults: str,
    kinds: set[str],
    said: str,
) -> None:
    settings, expected = setup(serve, store, db_url, tmp_path, "manual", faults)
    summary = run_queue(settings, store)
    failed = [a for e in exported(store).values() for a in store.attempts(e.job.id) if a.error_kind]
    assert summary.exit_code == 0 and summary.counts.retries == len(failed) >= 1
    assert_exact_transcripts(store, expected)
    assert {a.endpoint for a in failed} == {"manual"}
    assert {a.error_kind for a in failed} <= kinds
    assert all(said in (a.error_message or "") for a in failed)


def test_batch_runs_every_file_to_its_exact_transcript_with_turns_and_words(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    settings, expected = setup(serve, store, db_url, tmp_path, "batch")
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.counts.succeeded == FILES
    assert_exact_transcripts(store, expected)
    for job in exported(store).values():
        assert job.turns and "".join(t.transcript for t in job.turns) == job.transcript
        assert {t.ended_by for t in job.turns} == {"batch"}
        assert all(t.words for t in job.turns)
    lines = invoke(db_url, "export").stdout.splitlines()
    assert {json.loads(line)["endpoint"] for line in lines} == {"batch"}


def test_batch_5xx_and_429_are_retried_honouring_retry_after(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    settings, expected = setup(
        serve, store, db_url, tmp_path, "batch", "batch_503=first:2,batch_429=first:1"
    )
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.counts.succeeded == FILES
    assert_exact_transcripts(store, expected)
    assert summary.counts.rate_limited == 1  # the 429 lowers the adaptive limit
    # the server asks for 1 s: longer than these settings' connect waits, so the queue waits it
    for e in exported(store).values():
        tried = store.attempts(e.job.id)
        for failed, after in zip(tried, tried[1:], strict=False):
            assert failed.ended_at is not None and after.started_at is not None
            assert (after.started_at - failed.ended_at).total_seconds() >= 0.9


def test_batch_401_stops_the_run_with_exit_3(tmp_path: Path, serve: Serve) -> None:
    server = serve(api_key="right-key")
    make_files(tmp_path / "audio", 2)
    db = tmp_path / "q.db"
    env = {"CARTESIA_API_KEY": "wrong-key"}
    assert invoke(db, "enqueue", "--endpoint", "batch", str(tmp_path / "audio")).exit_code == 0
    result = invoke(db, "--profile", "local", "run", "--base-url", server.url, env=env)
    assert result.exit_code == 3, result.output
    assert "HTTP 401" in result.output
    jobs = [json.loads(line) for line in invoke(db, "jobs", "--json").stdout.splitlines()]
    assert jobs and all(j["state"] == "queued" for j in jobs)


def test_batch_bad_json_is_retried_with_its_reason(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    settings, expected = setup(
        serve, store, db_url, tmp_path, "batch", "batch_garbage=first:1,batch_shape=first:1"
    )
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.counts.retries == 2
    assert_exact_transcripts(store, expected)
    reasons = [
        a.error_message or ""
        for e in exported(store).values()
        for a in store.attempts(e.job.id)
        if a.error_kind == "protocol"
    ]
    assert len(reasons) == 2 and all("batch answer (HTTP 200)" in r for r in reasons)


def test_auto_jobs_beside_them_still_run_exactly(
    serve: Serve, store: Store, db_url: str, tmp_path: Path
) -> None:
    settings, expected = setup(serve, store, db_url, tmp_path, "auto")
    assert run_queue(settings, store).exit_code == 0
    assert_all_exact(store, expected)
    assert set(attempt_kinds(store)) == {("auto", None)}
