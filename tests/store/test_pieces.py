"""Pieces in the store: split, longest-first claims, stitch, a failing piece, retry and cancel
of a split job, and every listing seeing jobs, never their pieces (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from helpers import invoke
from storekit import Clock, attempt, new_job

from jobrunner.errors import LeaseLostError
from jobrunner.store import JobState, PieceRange, Selector, Store, TurnRow, make_owner
from jobrunner.store.pieces import CHANNEL_SEPARATOR

TTL = 60.0
RATE = 16000


def long_job(store: Store, i: int = 1, seconds: int = 40, **changes: object) -> int:
    job = new_job(i, frames=seconds * RATE, duration_s=float(seconds), **changes)
    [row] = store.enqueue_many([job])
    return row.job_id


def claim_one(store: Store, owner: str) -> tuple[int, int]:
    [job] = store.claim(1, owner, TTL)
    return job.id, job.attempt


def split_in(store: Store, owner: str, cuts: list[int], channels: tuple[int | None, ...] = (None,),
             seconds: int = 40) -> tuple[int, list[int]]:  # fmt: skip
    parent = long_job(store, seconds=seconds)
    job_id, number = claim_one(store, owner)
    bounds = [0, *cuts, seconds * RATE]
    ranges = [
        PieceRange(a, b, channel)
        for channel in channels
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    return parent, store.split(job_id, owner, number, ranges)


def finish(store: Store, clock: Clock, owner: str, texts: list[str], at: float = 1.0) -> int:
    """Claim one piece and complete it with one turn per text, ``at`` s into the piece."""
    [job] = store.claim(1, owner, TTL)
    turns = [
        TurnRow(index=i, transcript=t, start_audio_s=at + i, end_audio_s=at + i + 0.5)
        for i, t in enumerate(texts)
    ]
    store.complete(job.id, owner, attempt(job.attempt, owner, clock), turns, "".join(texts))
    return job.id


def test_split_parks_the_job_and_queues_pieces_that_inherit_it(store: Store) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [10 * RATE, 25 * RATE])
    job = store.job(parent)
    assert job is not None
    # running without a lease: never claimed, never reaped; the claiming attempt given back
    assert (job.state, job.lease_owner, job.attempts) == ("running", None, 0)
    assert len(pieces) == 3
    claimed = store.claim(10, owner, TTL)
    # longest first: the 15 s piece, then the two others in id order at 15 s and 10 s
    assert [(c.start_frame, c.end_frame) for c in claimed] == [
        (10 * RATE, 25 * RATE),
        (25 * RATE, 40 * RATE),
        (0, 10 * RATE),
    ]
    assert {c.parent_id for c in claimed} == {parent}
    assert [c.duration_s for c in claimed] == [15.0, 15.0, 10.0]
    assert all(c.path == "/audio/00001.wav" and c.frames == 40 * RATE for c in claimed)
    assert store.reap_expired().requeued == ()


def test_split_needs_the_lease(store: Store) -> None:
    owner = make_owner()
    long_job(store)
    job_id, number = claim_one(store, owner)
    with pytest.raises(LeaseLostError):
        store.split(job_id, "someone-else", number, [PieceRange(0, 5), PieceRange(5, 640000)])
    assert store.count(states=["queued"]) == 0  # nothing inserted


def test_claims_take_the_longest_work_first_within_priority(store: Store) -> None:
    store.enqueue_many(
        [
            new_job(1, duration_s=10.0),
            new_job(2, duration_s=300.0),
            new_job(3, duration_s=20.0, priority=1),
            new_job(4, duration_s=300.0),
        ]
    )
    claimed = store.claim(4, make_owner(), TTL)
    assert [c.path[-9:-4] for c in claimed] == ["00003", "00002", "00004", "00001"]


def test_last_piece_stitches_the_job_in_file_time(store: Store, clock: Clock) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [10 * RATE, 25 * RATE])
    finish(store, clock, owner, ["b1 ", "b2 "])  # the 15 s piece at 10 s
    assert store.job(parent).state == "running"  # type: ignore[union-attr]
    finish(store, clock, owner, ["c1"])  # 25 s
    finish(store, clock, owner, ["a1 "])  # 0 s
    job = store.job(parent)
    assert job is not None and job.state == "succeeded"
    [exported] = list(store.iter_export())
    assert exported.job.id == parent
    assert exported.transcript == "a1 b1 b2 c1"
    assert [(t.channel, t.index, t.transcript, t.start_audio_s) for t in exported.turns] == [
        (0, 0, "a1 ", 1.0),
        (0, 1, "b1 ", 11.0),
        (0, 2, "b2 ", 12.0),
        (0, 3, "c1", 26.0),
    ]
    # the pieces keep their own record
    assert all(store.job(p).state == "succeeded" for p in pieces)  # type: ignore[union-attr]


def test_channel_pieces_stitch_per_channel(store: Store, clock: Clock) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [20 * RATE], channels=(0, 1))
    for _ in pieces:
        [job] = store.claim(1, owner, TTL)
        text = f"ch{job.source_channel}@{job.start_frame // RATE} "
        turn = TurnRow(index=0, transcript=text, start_audio_s=2.0, end_audio_s=3.0)
        store.complete(job.id, owner, attempt(job.attempt, owner, clock), [turn], text)
    [exported] = list(store.iter_export())
    assert exported.job.id == parent
    assert exported.transcript == CHANNEL_SEPARATOR.join(["ch0@0 ch0@20 ", "ch1@0 ch1@20 "])
    assert [(t.channel, t.index, t.start_audio_s) for t in exported.turns] == [
        (0, 0, 2.0),
        (0, 1, 22.0),
        (1, 0, 2.0),
        (1, 1, 22.0),
    ]


def test_a_piece_failing_for_good_fails_the_job_and_retry_runs_it_alone(
    store: Store, clock: Clock
) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [20 * RATE])
    good = finish(store, clock, owner, ["one "])
    [bad] = store.claim(1, owner, TTL)
    record = attempt(bad.attempt, owner, clock, error_kind="server_error")
    store.fail(bad.id, owner, record, "server closed 1011", "server_error")
    job = store.job(parent)
    assert job is not None
    assert (job.state, job.error_kind) == ("failed", "server_error")
    assert "server closed 1011" in (job.reason or "")

    assert store.requeue(Selector(states=(JobState.FAILED,))) == [parent]
    assert store.job(parent).state == "running"  # type: ignore[union-attr]
    assert store.job(good).state == "succeeded"  # type: ignore[union-attr]
    [again] = store.claim(5, owner, TTL)  # only the failed piece
    assert again.id == bad.id
    turn = TurnRow(index=0, transcript="two", start_audio_s=0.5, end_audio_s=1.0)
    store.complete(again.id, owner, attempt(again.attempt, owner, clock), [turn], "two")
    [exported] = list(store.iter_export())
    assert (exported.job.state, exported.transcript) == ("succeeded", "one two")


def test_a_reaped_piece_out_of_attempts_fails_its_job(store: Store, clock: Clock) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [20 * RATE])
    for _ in range(3):  # max_attempts 3: the third reap fails the piece
        store.claim(2, owner, TTL)
        clock.advance(TTL + 1)
        store.reap_expired()
    job = store.job(parent)
    assert job is not None and job.state == "failed"
    assert job.error_kind == "lease_expired"


def test_cancel_of_a_split_job_cancels_its_unfinished_pieces(store: Store, clock: Clock) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [10 * RATE, 20 * RATE])
    done = finish(store, clock, owner, ["x"])
    [running] = store.claim(1, owner, TTL)
    assert store.cancel(Selector(ids=(parent,))) == [parent]
    states = {p: store.job(p).state for p in pieces}  # type: ignore[union-attr]
    assert states[done] == "succeeded"
    assert sorted(s for p, s in states.items() if p != done) == ["cancelled", "cancelled"]
    assert store.renew_leases(owner, [(running.id, running.attempt)], TTL) == set()


def test_listings_see_jobs_never_their_pieces(store: Store, clock: Clock) -> None:
    owner = make_owner()
    parent, pieces = split_in(store, owner, [10 * RATE, 20 * RATE])
    store.claim(1, owner, TTL)
    # a piece's id names no job of the listings and selections
    assert [j.id for j in store.jobs()] == [parent]
    assert store.count() == 1
    assert store.count(states=["queued"]) == 0
    assert store.cancel(Selector(ids=(pieces[0],))) == []
    report = store.status()
    assert (report.total_jobs, report.count("running"), report.count("queued")) == (1, 1, 0)
    assert report.total_audio_s == 40.0
    assert (report.split_running, report.pieces) == (1, {"queued": 2, "running": 1})
    assert sum(w.running for w in report.workers) == 1  # sessions: the piece being streamed
    assert store.next_run_after() is not None  # the worker still sees queued pieces
    assert [e.job.id for e in store.iter_export()] == [parent]


def test_status_shows_pieces_in_progress(store: Store, clock: Clock, store_url: str) -> None:
    owner = make_owner()
    split_in(store, owner, [10 * RATE, 20 * RATE])
    finish(store, clock, owner, ["x"])
    store.claim(1, owner, TTL)
    text = invoke(store_url, "status").output
    assert "1 split into 3 pieces: 1 queued, 1 running, 1 succeeded" in text
    assert "running           1" in text  # jobs, not pieces
    document = json.loads(invoke(store_url, "status", "--json").output)
    assert document["states"]["running"]["jobs"] == 1
    assert document["pieces"] == {
        "split_running": 1,
        "states": {"queued": 1, "running": 1, "succeeded": 1},
    }
