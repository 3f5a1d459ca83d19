"""Machines sharing a PostgreSQL queue judge leases by the database server's clock.

The server's clock is read inside every statement, not measured once at open: a machine whose
clock steps after it opened the store (NTP, a VM resumed) must neither expire the live leases
of others nor keep a dead worker's jobs locked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from storekit import attempt, new_job

from jobrunner.store import JobState, Store, utcnow
from jobrunner.store.engine import clock_offset

STEP = timedelta(hours=2)


class SteppingClock:
    """This machine's clock, which an NTP step moves by ``step`` whenever the test says so."""

    def __init__(self) -> None:
        self.step = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.step


@pytest.mark.postgres
def test_a_machine_an_hour_slow_measures_the_servers_clock_an_hour_ahead(pg_database: str) -> None:
    with Store.open(pg_database) as store:
        offset = clock_offset(store.engine, lambda: utcnow() - timedelta(hours=1))
    assert abs(offset - timedelta(hours=1)) < timedelta(seconds=1)


@pytest.mark.postgres
def test_a_clock_step_after_opening_neither_reaps_a_live_lease_nor_keeps_an_expired_one(
    pg_database: str,
) -> None:
    an_hour_ago = utcnow() - timedelta(hours=1)
    with Store.open(pg_database, now=lambda: an_hour_ago) as past:  # a worker that died then
        dead, live = [r.job_id for r in past.enqueue_many([new_job(1), new_job(2)])]
        assert [job.id for job in past.claim(1, "dead-worker", lease_ttl=60)] == [dead]
    clock = SteppingClock()
    # as a default PostgreSQL store, on a machine clock that the test can step
    stepped = Store.open(pg_database, now=clock, server_clock=True)
    with Store.open(pg_database) as holder, stepped:
        assert [job.id for job in holder.claim(1, "live-worker", lease_ttl=600)] == [live]

        clock.step = -STEP  # now two hours behind: the dead lease is still due for reaping
        assert stepped.reap_expired().requeued == (dead,)
        clock.step = STEP  # now two hours ahead: the live lease has ten minutes left
        assert stepped.reap_expired().requeued == ()
        workers = {w.owner: w.live for w in stepped.status().workers}
        assert workers == {"live-worker": True}

        # its own lease and backoff are measured on the server too
        [job] = stepped.claim(1, "stepped-worker", lease_ttl=600)
        assert abs(job.lease_expires_at - (utcnow() + timedelta(seconds=600))) < STEP / 4
        clock.step = -STEP
        assert holder.reap_expired().requeued == ()
        record = attempt(job.attempt, "stepped-worker", clock)
        run_after = clock() + timedelta(seconds=30)
        assert stepped.retry_later(job.id, "stepped-worker", record, run_after) is JobState.QUEUED
        assert holder.claim(1, "live-worker", lease_ttl=600) == []  # 30 s backoff, not -2 h
        due = stepped.next_run_after()
        assert due is not None
        assert timedelta(0) < due - stepped.now() <= timedelta(seconds=30)


def test_only_postgresql_has_a_server_clock(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="only a PostgreSQL store"):
        Store.open(f"sqlite:///{tmp_path}/jobs.db", server_clock=True)
