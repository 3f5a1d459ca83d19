"""The lease keeper against a real SQLite queue whose clock the test turns by hand: renewals
hand back the attempts that are not ours any more, reaping brings dead workers' jobs back (at
once when their process is gone), a waiting worker learns whose leases it waits for, and a
database that fails for a round costs nobody their job. No sleeps: each round is called
directly (``renew``, ``reap``, ``tick``, ``others``)."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
from helpers import fast_settings
from workerkit import enqueue, make_files

from jobrunner.owner import this_machine
from jobrunner.run import LeaseWait
from jobrunner.run.leases import Held, LeaseKeeper
from jobrunner.run.offload import StoreCalls
from jobrunner.store import ReapResult, Selector, Store, make_owner

T = TypeVar("T")
TTL = 30.0
ME, DEAD = "host:1:me", "host:2:dead"


class Clock:
    """Both clocks the keeper meets: the store's UTC ``now`` and the worker's monotonic one."""

    def __init__(self) -> None:
        self.utc = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.utc += timedelta(seconds=seconds)
        self.mono += seconds


class Keeper:
    """A LeaseKeeper of owner ``ME`` and what its callbacks heard."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.held: set[Held] = set()
        self.lost: list[set[Held]] = []
        self.reaped: list[ReapResult] = []
        self.store, self.clock = store, clock

    def run(self, round_: Callable[[LeaseKeeper], Awaitable[T]]) -> T:
        async def main() -> T:
            keeper = LeaseKeeper(
                self.store,
                ME,
                TTL,
                calls=StoreCalls(),
                held=lambda: set(self.held),
                lost=self.lost.append,
                reaped=self.reaped.append,
                clock=lambda: self.clock.mono,
            )
            return await round_(keeper)

        return anyio.run(main)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Store]:
    """A store on the hand-turned clock with four queued jobs (a budget of 2 attempts each)."""
    with Store.open(db_url, now=lambda: clock.utc) as store:
        make_files(tmp_path / "audio", 4)
        enqueue(store, fast_settings(None, db_url, max_attempts=2), tmp_path / "audio")
        yield store


def test_a_renewal_extends_our_leases_and_hands_back_the_jobs_we_lost(
    queue: Store, clock: Clock
) -> None:
    mine = [(job.id, job.attempt) for job in queue.claim(3, ME, TTL)]
    keeper = Keeper(queue, clock)
    keeper.held = set(mine)
    cancelled, kept = mine[0], mine[1:]
    assert queue.cancel(Selector(ids=(cancelled[0],))) == [cancelled[0]]
    clock.advance(20.0)
    assert keeper.run(lambda k: k.renew()) == {cancelled}
    assert keeper.lost == [{cancelled}]
    for job_id, _ in kept:
        view = queue.job(job_id)
        assert view is not None and view.state == "running"
        assert view.lease_expires_at == clock.utc + timedelta(seconds=TTL)
    # past the old expiry the renewed jobs are still ours: nothing to reap
    clock.advance(15.0)
    assert queue.reap_expired() == ReapResult()


def test_a_job_reaped_and_claimed_by_another_worker_is_reported_lost(
    queue: Store, clock: Clock
) -> None:
    [job] = queue.claim(1, ME, TTL)
    clock.advance(TTL + 1)  # we missed our renewals (a stalled machine)
    assert queue.reap_expired().requeued == (job.id,)
    assert [j.id for j in queue.claim(1, "host:3:other", TTL)] == [job.id]
    keeper = Keeper(queue, clock)
    keeper.held = {(job.id, job.attempt)}
    assert keeper.run(lambda k: k.renew()) == {(job.id, job.attempt)}
    assert keeper.lost == [{(job.id, job.attempt)}]
    view = queue.job(job.id)
    assert view is not None and view.lease_owner == "host:3:other"


def test_nothing_held_means_no_renewal_and_nothing_lost(queue: Store, clock: Clock) -> None:
    keeper = Keeper(queue, clock)
    assert keeper.run(lambda k: k.renew()) == set()
    assert keeper.lost == []


def test_reaping_brings_a_dead_workers_jobs_back_or_fails_them_when_their_budget_is_spent(
    queue: Store, clock: Clock
) -> None:
    first = queue.claim(2, DEAD, TTL)
    clock.advance(TTL + 1)
    queue.reap_expired()  # their first attempt: lost to the dead worker, counted
    again = queue.claim(2, DEAD, TTL)
    assert {j.id for j in again} == {j.id for j in first}
    fresh = queue.claim(1, DEAD, TTL)
    clock.advance(TTL + 1)
    keeper = Keeper(queue, clock)
    result = keeper.run(lambda k: k.reap())
    assert set(result.failed) == {j.id for j in again}  # second attempt of two: spent
    assert result.requeued == (fresh[0].id,)
    assert keeper.reaped == [result]
    states = {j.id: j.state for j in queue.jobs()}
    assert [states[j.id] for j in again] == ["failed", "failed"]
    assert states[fresh[0].id] == "queued"
    assert [a.outcome for a in queue.attempts(fresh[0].id)] == ["lease_expired"]


def test_a_reap_with_nothing_expired_reports_nothing(queue: Store, clock: Clock) -> None:
    queue.claim(1, DEAD, TTL)
    clock.advance(TTL - 1)  # alive: its lease has a second left
    keeper = Keeper(queue, clock)
    assert keeper.run(lambda k: k.reap()) == ReapResult()
    assert keeper.reaped == []
    assert queue.count(states=["running"]) == 1


def test_a_round_reaps_only_once_a_ttl_has_passed_since_the_last_reap(
    queue: Store, clock: Clock
) -> None:
    [job] = queue.claim(1, DEAD, TTL)
    clock.advance(TTL + 1)  # the dead worker's lease has expired
    keeper = Keeper(queue, clock)

    async def rounds(k: LeaseKeeper) -> None:
        clock.advance(TTL / 3)
        await k.tick()  # renews; a reap is not due yet
        assert keeper.reaped == [] and queue.count(states=["running"]) == 1
        clock.advance(TTL * 2 / 3)
        await k.tick()

    keeper.run(rounds)
    assert [r.requeued for r in keeper.reaped] == [(job.id,)]


def test_a_failed_renewal_loses_nobody_their_job_and_the_next_round_renews(
    queue: Store, clock: Clock, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    [job] = queue.claim(1, ME, TTL)
    keeper = Keeper(queue, clock)
    keeper.held = {(job.id, job.attempt)}
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:  # the database fails every statement on jobs for a round
        db.execute("ALTER TABLE jobs RENAME TO jobs_away")
    with caplog.at_level(logging.WARNING, logger="jobrunner.run.leases"):
        assert keeper.run(lambda k: k.renew()) == set()
    assert keeper.lost == []
    assert "lease renewal failed" in caplog.text
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE jobs_away RENAME TO jobs")
    clock.advance(20.0)
    assert keeper.run(lambda k: k.renew()) == set()
    view = queue.job(job.id)
    assert view is not None and view.lease_expires_at == clock.utc + timedelta(seconds=TTL)


def dead_owner() -> str:
    """The owner id of a process that has ended (on this machine)."""
    code = "from jobrunner.owner import make_owner; print(make_owner())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(this_machine() is None, reason="needs Linux /proc")
def test_a_reap_takes_back_at_once_the_jobs_of_a_process_that_is_gone_and_only_those(
    queue: Store, clock: Clock
) -> None:
    dead, live, elsewhere = dead_owner(), make_owner(), "host-b:1234:abcd1234"
    [lost] = queue.claim(1, dead, TTL)
    [kept] = queue.claim(1, live, TTL)
    [waited] = queue.claim(1, elsewhere, TTL)
    keeper = Keeper(queue, clock)
    result = keeper.run(lambda k: k.reap())  # nothing has expired
    assert result == ReapResult(requeued=(lost.id,)) and keeper.reaped == [result]
    [attempt] = queue.attempts(lost.id)
    assert (attempt.outcome, attempt.error_kind, attempt.worker) == (
        "lease_expired",
        "worker_gone",
        dead,
    )
    assert {j.id for j in queue.jobs(states=["running"])} == {kept.id, waited.id}


def test_others_says_whose_leases_a_worker_waits_for_and_reaps_them_when_they_expire(
    queue: Store, clock: Clock
) -> None:
    theirs = queue.claim(2, "host-b:1234:abcd1234", TTL)
    [ours] = queue.claim(1, ME, TTL)  # never waited for
    keeper = Keeper(queue, clock)
    keeper.held = {(ours.id, ours.attempt)}
    clock.advance(TTL / 3)
    waiting = keeper.run(lambda k: k.others())
    assert waiting.at(clock.mono) == (LeaseWait("host-b:1234", 2, TTL * 2 / 3),)
    assert keeper.reaped == []
    clock.advance(TTL)  # they never renewed; we renew now
    assert keeper.run(lambda k: k.renew()) == set()
    assert not keeper.run(lambda k: k.others())
    assert keeper.reaped == [ReapResult(requeued=tuple(sorted(j.id for j in theirs)))]
