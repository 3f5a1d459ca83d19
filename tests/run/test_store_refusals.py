"""A final write the database refuses for a reason other than a lost lease (a constraint, a
trigger, a value it will not take): the attempt is recorded as failed with that reason, counted
as a failure or a retry, and the job never stays ``running``. Real databases refuse for real:
a trigger on SQLite, a CHECK constraint on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from helpers import Serve, fast_settings
from workerkit import enqueue, make_files

from jobrunner.run import JobOutcome, RunSummary, run_queue
from jobrunner.store import AttemptView, JobView, Store


def refused_run(
    serve: Serve, folder: Path, store_url: str, table: str, condition: str, max_attempts: int
) -> tuple[RunSummary, list[JobOutcome], JobView, list[AttemptView]]:
    """One file run on a database that refuses rows of ``table`` for which ``condition`` (on
    the new row's columns) holds: a trigger on SQLite, a CHECK constraint on PostgreSQL."""
    make_files(folder, 1)
    settings = fast_settings(serve(), store_url, max_attempts=max_attempts)
    seen: list[JobOutcome] = []
    with Store.open(store_url) as store:
        enqueue(store, settings, folder)
        with store.engine.begin() as conn:
            if store.engine.dialect.name == "sqlite":
                conn.exec_driver_sql(
                    f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                    f"WHEN {condition.replace('{new}', 'NEW.')} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            else:
                check = condition.replace("{new}", "")
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} ADD CONSTRAINT refused_by_the_test CHECK (NOT ({check}))"
                )
        summary = run_queue(settings, store, on_outcome=seen.append)
        [job] = store.jobs()
        return summary, seen, job, store.attempts(job.id)


def test_a_result_the_database_refuses_is_a_recorded_failure_not_a_lost_lease(
    serve: Serve, tmp_path: Path, store_url: str
) -> None:
    summary, seen, job, attempts = refused_run(
        serve, tmp_path / "audio", store_url, "turns", "{new}turn_index >= 0", max_attempts=2
    )
    assert [o.outcome for o in seen] == ["retry", "failed"]
    assert summary.exit_code == 1 and summary.counts.cancelled == 0
    assert (summary.counts.failed, summary.counts.retries) == (1, 1)
    assert job.state == "failed" and job.error_kind == "store" and job.lease_owner is None
    assert job.reason is not None and job.reason.startswith("the result could not be stored: ")
    assert "refused_by_the_test" in job.reason or "refused by the test" in job.reason
    assert job.reason.endswith("(gave up after 2 attempts)")
    assert [(a.outcome, a.error_kind) for a in attempts] == [
        ("retry", "store"),
        ("failed", "store"),
    ]
    assert all((a.audio_seconds_sent or 0) > 1 for a in attempts)  # the session's facts kept


def test_when_the_full_record_is_refused_too_the_reason_alone_is_written(
    serve: Serve, tmp_path: Path, store_url: str
) -> None:
    # every attempt row of a session has its request id: only a bare record gets through
    summary, _, job, [attempt] = refused_run(
        serve, tmp_path / "audio", store_url, "attempts", "{new}request_id IS NOT NULL", 1
    )
    assert summary.counts.failed == 1 and summary.counts.cancelled == 0
    assert job.state == "failed" and job.error_kind == "store"
    assert job.reason is not None and job.reason.startswith("the result could not be stored: ")
    assert (attempt.outcome, attempt.error_kind, attempt.request_id) == ("failed", "store", None)
    assert attempt.error_message == job.reason
