"""A final write the database refuses for a reason other than a lost lease (a constraint, a
trigger, a value it will not take): the attempt is recorded as failed with that reason, counted
as a failure or a retry, and the job never stays ``running``. Real databases refuse for real:
a trigger on SQLite, a CHECK constraint on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from helpers import Serve, fast_settings
from workerkit import enqueue, make_files

from jobrunner.run import JobOutcome, run_queue
from jobrunner.store import Store


def refuse(store: Store, table: str, condition: str) -> None:
    """Make the database refuse rows of ``table`` for which ``condition`` holds."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE {table} ADD CONSTRAINT refused_by_the_test CHECK (NOT ({condition}))"
            )


def test_a_result_the_database_refuses_is_a_recorded_failure_not_a_lost_lease(
    serve: Serve, tmp_path: Path, store_url: str
) -> None:
    make_files(tmp_path / "audio", 1)
    server = serve()
    settings = fast_settings(server, store_url, max_attempts=2)
    seen: list[JobOutcome] = []
    with Store.open(store_url) as store:
        enqueue(store, settings, tmp_path / "audio")
        refuse(
            store, "turns", "NEW.turn_index >= 0" if "sqlite" in store_url else "turn_index >= 0"
        )
        summary = run_queue(settings, store, on_outcome=seen.append)
        [job] = store.jobs()
        attempts = store.attempts(job.id)
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
    make_files(tmp_path / "audio", 1)
    server = serve()
    settings = fast_settings(server, store_url, max_attempts=1)
    with Store.open(store_url) as store:
        enqueue(store, settings, tmp_path / "audio")
        column = "NEW.request_id" if "sqlite" in store_url else "request_id"
        refuse(store, "attempts", f"{column} IS NOT NULL")  # every row of a session's facts
        summary = run_queue(settings, store)
        [job] = store.jobs()
        [attempt] = store.attempts(job.id)
    assert summary.counts.failed == 1 and summary.counts.cancelled == 0
    assert job.state == "failed" and job.error_kind == "store"
    assert job.reason is not None and job.reason.startswith("the result could not be stored: ")
    assert (attempt.outcome, attempt.error_kind, attempt.request_id) == ("failed", "store", None)
    assert attempt.error_message == job.reason
