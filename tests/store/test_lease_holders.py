"""Leases held per attempt, whose leases a waiting worker sees, and reaping the leases of
owners whose process is gone, on every backend, with the hand-cranked clock."""

from __future__ import annotations

import pytest
from storekit import Clock, attempt, new_job

from jobrunner.errors import LeaseLostError
from jobrunner.store import LeaseHolder, ReapResult, Selector, Store

TTL = 60.0


def enqueue(store: Store, n: int, **changes: object) -> list[int]:
    return [r.job_id for r in store.enqueue_many([new_job(i, **changes) for i in range(n)])]


def test_a_renewal_keeps_the_attempt_that_holds_the_job_not_an_older_one_of_the_same_owner(
    store: Store,
) -> None:
    """``cancel`` then ``retry`` while the worker still streams attempt 1: the worker claims
    attempt 2; renewing attempt 1 must not keep attempt 2's lease alive, and vice versa."""
    [job_id] = enqueue(store, 1)
    [first] = store.claim(1, "w", TTL)
    store.cancel(Selector(ids=(job_id,)))
    store.requeue(Selector(ids=(job_id,)))
    [second] = store.claim(1, "w", TTL)
    assert (first.attempt, second.attempt) == (1, 2)
    assert store.renew_leases("w", [(job_id, 1)], TTL) == set()
    assert store.renew_leases("w", [(job_id, 1), (job_id, 2)], TTL) == {(job_id, 2)}
    with pytest.raises(LeaseLostError):
        store.complete(job_id, "w", attempt(1, "w", Clock()), [], "")


def test_lease_holders_name_each_owner_with_its_jobs_and_expiries(
    store: Store, clock: Clock
) -> None:
    enqueue(store, 5)
    store.claim(2, "host-a:10:aaaa", TTL)
    clock.advance(20)
    store.claim(1, "host-a:10:aaaa", TTL)
    store.claim(1, "host-b:20:bbbb", TTL)
    clock.advance(10)
    assert store.lease_holders() == [
        LeaseHolder("host-a:10:aaaa", jobs=3, expires_in_s=30.0, last_expires_in_s=50.0),
        LeaseHolder("host-b:20:bbbb", jobs=1, expires_in_s=50.0, last_expires_in_s=50.0),
    ]
    clock.advance(45)
    assert [h.expires_in_s for h in store.lease_holders()] == [-15.0, 5.0]


def test_lease_holders_follow_the_label_and_only_running_jobs(store: Store) -> None:
    store.enqueue_many([new_job(1, label="calls"), new_job(2, label="memos"), new_job(3)])
    store.claim(3, "w", TTL)
    assert [(h.owner, h.jobs) for h in store.lease_holders()] == [("w", 3)]
    assert [(h.owner, h.jobs) for h in store.lease_holders("calls")] == [("w", 1)]
    assert store.lease_holders("other") == []
    store.cancel(Selector())
    assert store.lease_holders() == []


def test_a_gone_owners_leases_are_reaped_at_once_and_the_lost_attempt_counts(
    store: Store, clock: Clock
) -> None:
    ids = enqueue(store, 4)
    gone = store.claim(2, "box:111:dead", TTL)
    alive = store.claim(1, "box:222:live", TTL)
    clock.advance(1)  # far from expiry
    result = store.reap_owners(["box:111:dead", "box:333:unknown"])
    assert result == ReapResult(requeued=tuple(sorted(j.id for j in gone)))
    for job in gone:
        view = store.job(job.id)
        assert view is not None and view.state == "queued" and view.error_kind == "worker_gone"
        assert view.attempts == 1 and view.lease_owner is None
        [lost] = store.attempts(job.id)
        assert (lost.number, lost.outcome, lost.worker) == (1, "lease_expired", "box:111:dead")
        assert lost.error_kind == "worker_gone" and lost.audio_seconds_sent is None
    [kept] = alive
    view = store.job(kept.id)
    assert view is not None and view.state == "running" and view.lease_owner == "box:222:live"
    # the requeued jobs are claimable at once, as their next attempt
    again = store.claim(4, "box:444:new", TTL)
    assert {(j.id, j.attempt) for j in again} >= {(j.id, 2) for j in gone}
    assert store.reap_owners([]) == ReapResult()
    assert len(ids) == 4


def test_a_gone_owners_job_with_its_budget_spent_fails(store: Store) -> None:
    [job_id] = enqueue(store, 1, max_attempts=1)
    store.claim(1, "box:111:dead", TTL)
    assert store.reap_owners(["box:111:dead"]) == ReapResult(failed=(job_id,))
    view = store.job(job_id)
    assert view is not None and view.state == "failed" and view.error_kind == "worker_gone"
    assert view.reason is not None and "process is gone" in view.reason
