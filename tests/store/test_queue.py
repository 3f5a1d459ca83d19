"""The store contract: queue verbs, fencing, leases with an injected clock.

Every test takes its database from ``store_url`` so the same functions run on each backend.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from storekit import Clock, attempt, new_job

from jobrunner.errors import LeaseLostError, StaleStateError
from jobrunner.store import JobState, Selector, Store, TurnRow, make_owner

TTL = 60.0


def enqueue(store: Store, n: int, **changes: object) -> list[int]:
    return [r.job_id for r in store.enqueue_many([new_job(i, **changes) for i in range(n)])]


def state(store: Store, job_id: int) -> str:
    job = store.job(job_id)
    assert job is not None
    return job.state


# -- enqueue ----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    first = store.enqueue_many([new_job(1), new_job(2), new_job(1)])
    assert [r.new for r in first] == [True, True, False]
    assert first[0].job_id == first[2].job_id != first[1].job_id

    again = store.enqueue_many([new_job(2), new_job(3)])
    assert [(r.job_id, r.new) for r in again][0] == (first[1].job_id, False)
    assert again[1].new
    assert store.count() == 3


def test_invalid_jobs_are_born_invalid_with_their_reason(store: Store) -> None:
    [bad] = store.enqueue_many([new_job(1, reason="empty file (0 bytes)", duration_s=None)])
    job = store.job(bad.job_id)
    assert job is not None
    assert (job.state, job.reason, job.error_kind) == (
        "invalid",
        "empty file (0 bytes)",
        "invalid_audio",
    )
    assert store.claim(5, make_owner(), TTL) == []


# -- claim ------------------------------------------------------------------------------------


def test_claim_order_priority_then_age_and_filters(store: Store, clock: Clock) -> None:
    store.enqueue_many(
        [
            new_job(1),
            new_job(2, priority=5),
            new_job(3, label="calls"),
            new_job(4, priority=5, label="calls"),
        ]
    )
    owner = make_owner()
    assert [j.path for j in store.claim(1, owner, TTL, label="calls")] == ["/audio/00004.wav"]
    claimed = store.claim(10, owner, TTL)
    assert [j.path for j in claimed] == ["/audio/00002.wav", "/audio/00001.wav", "/audio/00003.wav"]
    job = claimed[0]
    assert (job.attempt, job.attempts_left, job.lease_owner) == (1, 2, owner)
    assert job.lease_expires_at == clock() + timedelta(seconds=TTL)
    assert (job.sample_rate, job.channels, job.frames, job.duration_s) == (16000, 1, 16000, 1.0)
    assert job.settings == {"model": "ink-2", "encoding": "auto"}
    assert store.claim(10, owner, TTL) == []


def test_two_workers_never_claim_the_same_job(store: Store, other_store: Store) -> None:
    """Two stores (two workers' connection pools) with three threads each, all claiming at the
    same moment, round after round: every job is claimed once, and every claimer got some."""
    ids = set(enqueue(store, 120))
    claimers = [(store if k % 2 else other_store, f"w{k}") for k in range(6)]
    rounds = len(ids) // (3 * len(claimers)) + 2
    together = threading.Barrier(len(claimers), timeout=60)

    def claim_in_rounds(claimer: tuple[Store, str]) -> list[int]:
        s, owner = claimer
        got: list[int] = []
        for _ in range(rounds):
            together.wait()
            got.extend(job.id for job in s.claim(3, owner, TTL))
        return got

    with ThreadPoolExecutor(len(claimers)) as pool:
        claimed = list(pool.map(claim_in_rounds, claimers))
    counts = Counter(job_id for got in claimed for job_id in got)
    assert set(counts) == ids and max(counts.values()) == 1
    assert [len(got) > 0 for got in claimed] == [True] * 6


# -- complete and fencing ---------------------------------------------------------------------


def test_complete_commits_transcript_turns_and_attempt_together(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    owner = make_owner()
    [job] = store.claim(1, owner, TTL)
    turns = [TurnRow(0, " Hello there.", end_audio_s=0.8), TurnRow(1, " Bye.", end_audio_s=1.0)]
    store.complete(job_id, owner, attempt(job.attempt, owner, clock), turns, " Hello there. Bye.")

    assert state(store, job_id) == "succeeded"
    [exported] = list(store.iter_export())
    assert exported.transcript == " Hello there. Bye."
    assert [t.transcript for t in exported.turns] == [" Hello there.", " Bye."]
    assert exported.request_id == "req-1" and exported.encoding == "pcm_s16le"
    [recorded] = store.attempts(job_id)
    assert (recorded.number, recorded.outcome, recorded.worker) == (1, "succeeded", owner)


def test_complete_by_a_stranger_raises_and_writes_nothing(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    [job] = store.claim(1, "owner", TTL)
    with pytest.raises(LeaseLostError):
        store.complete(
            job_id, "stranger", attempt(job.attempt, "stranger", clock), [TurnRow(0, " x")], " x"
        )
    assert state(store, job_id) == "running"
    assert store.attempts(job_id) == []
    assert next(store.iter_export()).transcript is None


def test_unknown_job_is_stale_state(store: Store, clock: Clock) -> None:
    with pytest.raises(StaleStateError):
        store.fail(999, "me", attempt(1, "me", clock), "boom", "error")


# -- leases with an injected clock ------------------------------------------------------------


def test_expired_lease_is_reaped_back_to_queued(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    store.claim(1, "dead-worker", TTL)
    clock.advance(TTL - 1)
    assert store.reap_expired().requeued == ()
    clock.advance(2)
    result = store.reap_expired()
    assert result.requeued == (job_id,) and result.failed == ()
    assert state(store, job_id) == "queued"
    [lost] = store.attempts(job_id)
    assert (lost.number, lost.outcome, lost.worker) == (1, "lease_expired", "dead-worker")
    [again] = store.claim(1, "new-worker", TTL)
    assert (again.id, again.attempt) == (job_id, 2)


def test_renewed_lease_is_not_reaped(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    store.claim(1, "w", TTL)
    for _ in range(5):
        clock.advance(TTL / 3)
        assert store.renew_leases("w", [(job_id, 1), (12345, 1)], TTL) == {(job_id, 1)}
    assert store.reap_expired().requeued == ()
    assert state(store, job_id) == "running"


def test_reaping_with_attempts_used_up_fails_the_job(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1, max_attempts=2)
    for n in (1, 2):
        [job] = store.claim(1, f"w{n}", TTL)
        assert job.attempt == n
        clock.advance(TTL + 1)
        result = store.reap_expired()
    assert result.failed == (job_id,)
    job_view = store.job(job_id)
    assert job_view is not None
    assert (job_view.state, job_view.error_kind) == ("failed", "lease_expired")
    assert [a.outcome for a in store.attempts(job_id)] == ["lease_expired"] * 2


def test_worker_whose_lease_was_reaped_cannot_complete(
    store: Store, other_store: Store, clock: Clock
) -> None:
    [job_id] = enqueue(store, 1)
    [slow] = store.claim(1, "slow", TTL)
    clock.advance(TTL + 1)
    other_store.reap_expired()
    [fast] = other_store.claim(1, "fast", TTL)

    with pytest.raises(LeaseLostError):
        store.complete(
            job_id, "slow", attempt(slow.attempt, "slow", clock), [TurnRow(0, " old")], " old"
        )
    assert store.renew_leases("slow", [(job_id, slow.attempt)], TTL) == set()
    other_store.complete(
        job_id, "fast", attempt(fast.attempt, "fast", clock), [TurnRow(0, " new")], " new"
    )
    assert next(store.iter_export()).transcript == " new"
    assert [a.outcome for a in store.attempts(job_id)] == ["lease_expired", "succeeded"]


def test_attempt_number_fences_a_stale_attempt_of_the_same_owner(
    store: Store, clock: Clock
) -> None:
    [job_id] = enqueue(store, 1)
    [first] = store.claim(1, "w", TTL)
    clock.advance(TTL + 1)
    store.reap_expired()
    [second] = store.claim(1, "w", TTL)
    assert second.attempt == first.attempt + 1
    with pytest.raises(LeaseLostError):
        store.complete(job_id, "w", attempt(first.attempt, "w", clock), [], "")
    store.complete(job_id, "w", attempt(second.attempt, "w", clock), [], "")
    assert state(store, job_id) == "succeeded"


# -- retry, fail, release ---------------------------------------------------------------------


def test_retry_later_waits_for_run_after_then_fails_when_budget_is_used(
    store: Store, clock: Clock
) -> None:
    [job_id] = enqueue(store, 1, max_attempts=2)
    [job] = store.claim(1, "w", TTL)
    failure = attempt(job.attempt, "w", clock, error_kind="connection_lost", error_message="1006")
    assert (
        store.retry_later(job_id, "w", failure, clock() + timedelta(seconds=30)) is JobState.QUEUED
    )
    report = store.status()
    assert report.queued_waiting == 1
    assert store.next_run_after() == clock() + timedelta(seconds=30)
    assert store.claim(1, "w", TTL) == []
    clock.advance(30)
    [job] = store.claim(1, "w", TTL)
    assert job.attempts_left == 0
    failure = attempt(job.attempt, "w", clock, error_kind="stall", error_message="no events")
    assert store.retry_later(job_id, "w", failure, clock()) is JobState.FAILED
    view = store.job(job_id)
    assert view is not None
    assert (view.state, view.reason, view.error_kind) == ("failed", "no events", "stall")
    assert [a.outcome for a in store.attempts(job_id)] == ["retry", "failed"]


def test_fail_and_invalid(store: Store, clock: Clock) -> None:
    a, b = enqueue(store, 2)
    jobs = {j.id: j for j in store.claim(2, "w", TTL)}
    store.fail(a, "w", attempt(jobs[a].attempt, "w", clock), "400: unknown model", "rejected")
    store.fail(
        b, "w", attempt(jobs[b].attempt, "w", clock), "cannot decode", "invalid_audio", invalid=True
    )
    assert (state(store, a), state(store, b)) == ("failed", "invalid")
    [rec] = store.attempts(a)
    assert (rec.outcome, rec.error_kind, rec.error_message) == (
        "failed",
        "rejected",
        "400: unknown model",
    )


def test_release_gives_the_attempt_back(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    [job] = store.claim(1, "w", TTL)
    store.release(job_id, "w")
    assert state(store, job_id) == "queued"
    [again] = store.claim(1, "w2", TTL)
    assert again.attempt == job.attempt == 1
    with pytest.raises(LeaseLostError):
        store.release(job_id, "w")


# -- operator verbs ---------------------------------------------------------------------------


def test_requeue_failed_gives_a_fresh_budget(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1, max_attempts=1)
    [job] = store.claim(1, "w", TTL)
    store.fail(job_id, "w", attempt(job.attempt, "w", clock), "boom", "error")
    assert store.requeue(Selector()) == [job_id]
    view = store.job(job_id)
    assert view is not None
    assert (view.state, view.reason, view.attempts, view.max_attempts) == ("queued", None, 1, 2)
    [job] = store.claim(1, "w", TTL)
    assert (job.attempt, job.attempts_left) == (2, 0)


def test_forced_rerun_keeps_old_transcript_until_new_success(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    [job] = store.claim(1, "w", TTL)
    store.complete(job_id, "w", attempt(job.attempt, "w", clock), [TurnRow(0, " old")], " old")

    assert store.requeue(Selector(ids=(job_id,))) == []  # succeeded needs force
    assert store.requeue(Selector(ids=(job_id,)), force=True) == [job_id]
    [job] = store.claim(1, "w", TTL)
    store.fail(job_id, "w", attempt(job.attempt, "w", clock), "boom", "error")
    exported = next(store.iter_export())
    assert (exported.job.state, exported.transcript, exported.transcript_attempt) == (
        "failed",
        " old",
        1,
    )
    assert [t.transcript for t in exported.turns] == [" old"]

    store.requeue(Selector(ids=(job_id,)))
    [job] = store.claim(1, "w", TTL)
    store.complete(
        job_id,
        "w",
        attempt(job.attempt, "w", clock),
        [TurnRow(0, " new"), TurnRow(1, " two")],
        " new two",
    )
    exported = next(store.iter_export())
    assert (exported.transcript, exported.transcript_attempt) == (" new two", 3)
    assert [t.transcript for t in exported.turns] == [" new", " two"]


def test_cancel_stops_queued_and_running_jobs(store: Store, clock: Clock) -> None:
    running, done, queued = enqueue(store, 3)
    assert [j.id for j in store.claim(1, "w", TTL)] == [running]
    [job] = store.claim(1, "w2", TTL)
    store.complete(done, "w2", attempt(job.attempt, "w2", clock), [], "")

    assert store.cancel(Selector()) == [running, queued]
    assert state(store, done) == "succeeded"
    assert store.renew_leases("w", [(running, 1)], TTL) == set()  # how the session learns it
    with pytest.raises(LeaseLostError):
        store.complete(running, "w", attempt(1, "w", clock), [], "")
    assert store.requeue(Selector(states=(JobState.CANCELLED,))) == [running, queued]


def test_selectors_by_path_label_and_state(store: Store, clock: Clock) -> None:
    ids = [
        r.job_id
        for r in store.enqueue_many([new_job(i, label="a" if i < 3 else "b") for i in range(6)])
    ]
    assert store.cancel(Selector(paths=("/audio/00001.wav", "/audio/00004.wav"))) == [
        ids[1],
        ids[4],
    ]
    assert store.cancel(Selector(label="b", states=(JobState.QUEUED,))) == [ids[3], ids[5]]
    assert store.cancel(Selector(ids=(ids[0],), label="b")) == []
    assert store.count(states=["cancelled"]) == 4


# -- times ------------------------------------------------------------------------------------


def test_times_are_stored_as_utc_and_naive_ones_are_refused(store: Store, clock: Clock) -> None:
    [job_id] = enqueue(store, 1)
    [job] = store.claim(1, "w", TTL)
    paris = timezone(timedelta(hours=2))
    later = (clock() + timedelta(minutes=5)).astimezone(paris)
    store.retry_later(job_id, "w", attempt(job.attempt, "w", clock), later)
    view = store.job(job_id)
    assert view is not None
    assert view.run_after == later and view.run_after.utcoffset() == timedelta(0)
    clock.advance(299)
    assert store.claim(1, "w", TTL) == []
    clock.advance(1)
    [job] = store.claim(1, "w", TTL)
    with pytest.raises(ValueError, match="naive"):
        store.retry_later(job_id, "w", attempt(job.attempt, "w", clock), datetime(2030, 1, 1))
    assert state(store, job_id) == "running"


# -- reports ----------------------------------------------------------------------------------


def test_status_report(store: Store, clock: Clock) -> None:
    store.enqueue_many(
        [new_job(i, duration_s=1800.0) for i in range(4)]
        + [new_job(10, reason="empty file (0 bytes)"), new_job(11, reason="empty file (0 bytes)")]
    )
    clock.advance(90)
    [job] = store.claim(1, "host:1:abcd", TTL)
    report = store.status()
    assert report.count("queued") == 3 and report.count("running") == 1
    assert report.count("invalid") == 2
    assert report.total_jobs == 6
    assert [s.state for s in report.states] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "invalid",
        "cancelled",
    ]
    queued = next(s for s in report.states if s.state == "queued")
    assert queued.audio_s == 3 * 1800.0
    assert report.oldest_queued is not None and report.oldest_queued.id == job.id + 1
    assert (
        report.top_failures[0].jobs == 2 and report.top_failures[0].reason == "empty file (0 bytes)"
    )
    [worker] = report.workers
    assert (worker.owner, worker.running) == ("host:1:abcd", 1)
    assert worker.lease_expires_at == clock() + timedelta(seconds=TTL)


def test_export_pages_through_jobs_in_order(store: Store, clock: Clock) -> None:
    ids = enqueue(store, 7)
    for job in store.claim(7, "w", TTL):
        turns = [TurnRow(k, f" {job.id}.{k}") for k in range(job.id % 3 + 1)]
        store.complete(
            job.id,
            "w",
            attempt(job.attempt, "w", clock),
            turns,
            "".join(t.transcript for t in turns),
        )
    exported = list(store.iter_export(page_size=2))
    assert [e.job.id for e in exported] == ids
    for e in exported:
        assert e.transcript == "".join(t.transcript for t in e.turns)
        assert [t.index for t in e.turns] == list(range(e.job.id % 3 + 1))
    assert [e.job.id for e in store.iter_export(states=["queued"])] == []
