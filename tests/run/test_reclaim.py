"""``cancel``, then ``retry --cancelled``, while the worker still streams the job: the worker
claims it again as a new attempt, and that attempt is the one that runs to the end and is
recorded. Before leases were kept per attempt, the old attempt's end removed the new
attempt's entry: the run ended, and the job stayed ``running`` under a dead lease.

A real ``jobrunner run`` process against the bundled server, the real ``cancel`` and ``retry``
commands; the test waits on the database, never on a fixed sleep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Serve, fast_settings, invoke
from workerkit import assert_all_exact, enqueue, jobrunner, poll, profile_file

from jobrunner.server.tones import turn_texts, write_wav
from jobrunner.store import Store

WAIT_S = 60


@pytest.mark.slow
def test_a_job_cancelled_and_retried_while_it_streams_runs_again_and_ends_once(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    turns = ["Cancel me.", " Then run me again.", " All of me."]
    (tmp_path / "audio").mkdir()
    path = write_wav(tmp_path / "audio" / "long.wav", turns, gap_s=1.2, tail_s=1.0)
    expected = {str(path): turn_texts(turns)}
    server = serve()
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    [job] = store.jobs()
    assert job.duration_s is not None and job.duration_s > 5
    # realtime: the first attempt streams for several seconds; renewals are 10 s apart, so
    # the worker learns of the cancel only by claiming the job again
    profile = profile_file(tmp_path, server, pace=1.0, concurrency=2, lease_ttl_s=30.0)
    proc = jobrunner(db_url, profile, "run", "--json")
    poll(lambda: store.count(states=["running"]) == 1, timeout=WAIT_S, what="the first attempt")
    assert invoke(db_url, "cancel", str(job.id)).exit_code == 0
    assert invoke(db_url, "retry", "--cancelled", str(job.id)).exit_code == 0

    def claimed_again() -> bool:
        view = store.job(job.id)
        return view is not None and view.attempts == 2 and view.state != "queued"

    poll(claimed_again, timeout=WAIT_S, what="the worker to claim the job again")
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, stderr
    assert store.count(states=["running"]) == 0
    assert_all_exact(store, expected)
    [recorded] = store.attempts(job.id)  # the old attempt wrote nothing
    assert (recorded.number, recorded.outcome) == (2, "succeeded")
    lines = [json.loads(line) for line in stdout.splitlines()]
    outcomes = [o for o in lines if o["schema"] == "jobrunner.run/1"]  # then the summary
    assert [o["outcome"] for o in outcomes if o["attempt"] == 2] == ["succeeded"]
    assert all(o["outcome"] != "succeeded" for o in outcomes if o["attempt"] == 1)
