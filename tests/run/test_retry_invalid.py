"""``jobrunner retry --invalid``: jobs a run found invalid go back with a fresh budget; jobs
refused at enqueue (no probed audio to stream) stay invalid, and the command says so."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from helpers import invoke
from workerkit import make_files

from jobrunner.store import AttemptRecord, Store, make_owner, utcnow


def test_retry_invalid_queues_the_jobs_a_run_found_invalid_but_not_those_refused_at_enqueue(
    tmp_path: Path, store_url: str
) -> None:
    folder = tmp_path / "audio"
    make_files(folder, 2)
    (folder / "empty.wav").write_bytes(b"")
    result = invoke(store_url, "enqueue", str(folder))
    assert result.exit_code == 0, result.output
    owner = make_owner()
    with Store.open(store_url) as store:
        [first, second] = store.claim(2, owner, 30.0)
        for job in (first, second):
            store.fail(job.id, owner, _record(job.attempt, owner), "decodes short",
                       "invalid_audio", invalid=True)  # fmt: skip
        before = {job.id: job.state for job in store.jobs()}
    assert Counter(before.values()) == {"invalid": 3}
    assert "no job matched" in invoke(store_url, "retry").output  # not without --invalid

    out = invoke(store_url, "retry", "--invalid", str(first.id))
    assert out.exit_code == 0 and f"1 jobs queued again (#{first.id})" in out.output
    out = invoke(store_url, "retry", "--invalid")
    assert f"1 jobs queued again (#{second.id})" in out.output
    assert "1 invalid jobs were refused at enqueue and stay invalid" in out.output
    with Store.open(store_url) as store:
        jobs = store.jobs()
    after = {job.path: (job.state, job.attempts, job.max_attempts) for job in jobs}
    assert after[str(folder / "empty.wav")] == ("invalid", 0, 5)
    for job in (first, second):
        assert after[job.path] == ("queued", 1, 1 + 5)  # a fresh budget


def _record(number: int, owner: str) -> AttemptRecord:
    now = utcnow()
    return AttemptRecord(number=number, worker=owner, started_at=now, ended_at=now)
