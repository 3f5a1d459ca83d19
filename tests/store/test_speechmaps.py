"""The speech map's storage on every backend: one map per content, alignments fenced by the
transcript they belong to, and the reports built on them."""

from __future__ import annotations

from storekit import Clock, attempt, new_job

from jobrunner.store import (
    JobState,
    Selector,
    Store,
    StoredMap,
    TurnRow,
    TurnSpeech,
    make_owner,
)

OWNER = make_owner()


def stored(sha: str, mode: str = "downmix", detector: str = "vad/1") -> StoredMap:
    return StoredMap(sha, mode, detector, 3.0, 1.5, '{"format": 1}')


def succeed(store: Store, clock: Clock, job: int, texts: list[str]) -> None:
    [claimed] = store.claim(1, OWNER, lease_ttl=60)
    assert claimed.id == job
    turns = [
        TurnRow(index=k, transcript=t, start_audio_s=k + 0.5, end_audio_s=k + 1.0)
        for k, t in enumerate(texts)
    ]
    store.complete(job, OWNER, attempt(claimed.attempt, OWNER, clock), turns, "".join(texts))


def speech(index: int, latency: float | None) -> TurnSpeech:
    return TurnSpeech(0, index, index + 0.4, index + 0.8, 0.1, latency, None)


def test_one_map_per_content_mode_and_detector(store: Store) -> None:
    store.speech.save_map(stored("a" * 64))
    store.speech.save_map(StoredMap("a" * 64, "downmix", "vad/1", 9.0, 9.0, "other"))  # a no-op
    store.speech.save_map(stored("a" * 64, mode="split"))
    store.speech.save_map(stored("a" * 64, detector="vad/2"))
    found = store.speech.find("a" * 64, "downmix", "vad/1")
    assert found == stored("a" * 64)  # the first one stays
    assert store.speech.find("b" * 64, "downmix", "vad/1") is None
    assert store.speech.keys(["a" * 64, "b" * 64], "vad/1") == {
        ("a" * 64, "downmix"),
        ("a" * 64, "split"),
    }


def test_targets_name_jobs_with_content_and_queued_ones_come_in_claim_order(store: Store) -> None:
    store.enqueue_many(
        [
            new_job(1),
            new_job(2, priority=5, settings={"downmix": "first"}, channels=2),
            new_job(3, label="x"),
            new_job(4, reason="not audio", sha256=None),  # invalid: nothing to map
        ]
    )
    ahead = store.speech.next_queued(10)
    assert [t.job_id for t in ahead] == [2, 1, 3]
    assert (ahead[0].channels, ahead[0].downmix) == (2, "first")
    assert [t.job_id for t in store.speech.next_queued(10, label="x")] == [3]
    assert [t.job_id for t in store.speech.targets(Selector())] == [1, 2, 3]
    named = Selector(ids=(3,), paths=("/audio/00001.wav",))
    assert [t.job_id for t in store.speech.targets(named)] == [1, 3]
    assert store.speech.targets(Selector(states=(JobState.SUCCEEDED,))) == []


def test_an_alignment_is_written_for_the_transcript_it_was_computed_from(
    store: Store, clock: Clock
) -> None:
    store.enqueue_many([new_job(1)])
    succeed(store, clock, 1, ["a", "b"])
    todo = store.speech.turns_to_align(1)
    assert todo is not None and [t.transcript for t in todo.turns] == ["a", "b"]
    assert store.speech.save_alignment(
        1, todo.attempt_id, [speech(0, 0.6), speech(1, 0.2)], "covered", 0
    )
    # a forced re-run completes meanwhile: the old alignment must not land on the new turns
    assert store.requeue(Selector(ids=(1,)), force=True) == [1]
    succeed(store, clock, 1, ["c"])
    [job] = store.jobs()
    assert (job.state, job.coverage, job.uncovered_s) == ("succeeded", None, None)
    assert not store.speech.save_alignment(1, todo.attempt_id, [speech(0, 9.9)], "uncovered", 3.0)
    [job] = store.jobs()
    assert job.coverage is None
    assert store.speech.end_latencies([1]) == {}
    [exported] = store.iter_export()
    assert exported.turns[0].speech_start_s is None


def test_reports_show_latency_percentiles_and_list_and_requeue_uncovered_jobs(
    store: Store, clock: Clock
) -> None:
    store.enqueue_many([new_job(i) for i in range(1, 4)])
    for job, latencies, verdict in [
        (1, [0.5, 0.7, None], "covered"),
        (2, [0.6, 2.0], "uncovered"),
        (3, [0.4], "covered"),
    ]:
        succeed(store, clock, job, ["x"] * len(latencies))
        todo = store.speech.turns_to_align(job)
        assert todo is not None
        aligned = [speech(k, value) for k, value in enumerate(latencies)]
        assert store.speech.save_alignment(job, todo.attempt_id, aligned, verdict, 1.25)
    report = store.status()
    assert (report.end_latency.turns, report.end_latency.p50_s, report.end_latency.p90_s) == (
        5,
        0.6,
        2.0,
    )
    assert report.uncovered == 1
    [flagged] = store.jobs(coverage="uncovered")
    assert (flagged.id, flagged.uncovered_s) == (2, 1.25)
    assert store.count(states=["succeeded"], coverage="uncovered") == 1
    assert store.speech.end_latencies([1, 2]) == {1: [0.5, 0.7], 2: [0.6, 2.0]}
    requeued = store.requeue(
        Selector(coverage="uncovered", states=(JobState.SUCCEEDED,)), force=True
    )
    assert requeued == [2]
    [exported] = [e for e in store.iter_export() if e.job.id == 2]
    assert exported.turns[1].end_latency_s == 2.0  # the old transcript stays until a new one
