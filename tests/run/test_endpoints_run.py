"""A job enqueued for the Manual endpoint, through the whole product: it runs through Manual,
its endpoint is recorded per job and per attempt, its turns keep their words, exports carry
both, and a failed Manual attempt is retried as any other."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import anyio
from helpers import fast_settings, invoke, manual_service
from workerkit import enqueue, exported, make_files

from jobrunner.run import RunSummary, arun_queue
from jobrunner.store import Store


def test_a_manual_job_records_its_endpoint_and_words_and_exports_them(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    make_files(tmp_path / "audio", 1)
    settings = fast_settings(None, db_url, endpoint="manual", pace=40.0)
    enqueue(store, settings, tmp_path / "audio")
    # the run's own endpoint is Auto: the job runs through the one it was enqueued with
    auto = settings.replace(endpoint="auto")

    async def main() -> RunSummary:
        async with manual_service() as url:
            return await arun_queue(auto.replace(base_url=url), store)

    summary = anyio.run(main)
    assert summary.counts.succeeded == 1
    [job] = exported(store).values()
    assert job.settings["endpoint"] == "manual"
    texts = [t.transcript for t in job.turns]
    assert "".join(texts) == job.transcript and texts[-1] == " end."
    assert {t.ended_by for t in job.turns} <= {"flush_done", "done"}
    assert job.turns[0].words == [{"word": "part1.", "start": 0.1, "end": 0.4}]
    [attempt] = store.attempts(job.job.id)
    assert attempt.endpoint == "manual"

    lines = invoke(db_url, "export").stdout.splitlines()
    [by_file] = [json.loads(line) for line in lines]
    assert by_file["endpoint"] == "manual"
    assert by_file["turns"][0]["words"] == [{"word": "part1.", "start": 0.1, "end": 0.4}]
    out = tmp_path / "turns.csv"
    assert (
        invoke(db_url, "export", "--by", "turn", "--format", "csv", "-o", str(out)).exit_code == 0
    )
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert json.loads(rows[0]["words"])[0]["word"] == "part1." and rows[-1]["words"] == ""


def test_a_manual_session_without_done_is_retried_and_recorded(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    make_files(tmp_path / "audio", 1)
    settings = fast_settings(None, db_url, endpoint="manual", pace=40.0, max_attempts=2)
    enqueue(store, settings, tmp_path / "audio")

    async def main() -> RunSummary:
        async with manual_service(done=False) as url:
            return await arun_queue(settings.replace(base_url=url), store)

    summary = anyio.run(main)
    assert summary.counts.failed == 1 and summary.counts.retries == 1
    [job] = exported(store).values()
    attempts = store.attempts(job.job.id)
    assert [(a.endpoint, a.error_kind) for a in attempts] == [("manual", "drain")] * 2
    assert "without done" in (attempts[0].error_message or "")
