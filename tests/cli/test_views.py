"""The JSON documents scripts parse (``status --json``, ``jobs --json``), from a real store read
at a fixed time, so ages and lease expiries are exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from jobrunner.cli.views import job_json, status_json
from jobrunner.store import NewJob, Store

T0 = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_status_json_schema_ages_and_workers(store_url: str) -> None:
    now = [T0]
    with Store.open(store_url, now=lambda: now[0]) as store:
        store.enqueue_many(
            [NewJob(f"/a/{i}.wav", f"k{i}", "fp", {}, 3, duration_s=1800.0) for i in range(4)]
            + [NewJob("/a/bad.wav", "bad", "fp", {}, 3, reason="empty file (0 bytes)")]
        )
        now[0] = T0 + timedelta(seconds=90)
        [claimed] = store.claim(1, "host-1:42:abcd", lease_ttl=60)
        data = json.loads(json.dumps(status_json(store.status())))
    assert list(data) == [
        "schema", "generated_at", "total_jobs", "total_audio_s", "states", "queued_waiting",
        "oldest_queued", "top_failures", "workers", "turns_ended_by_close", "end_latency",
        "uncovered", "pieces",
    ]  # fmt: skip
    assert data["schema"] == "jobrunner.status/1"
    assert data["generated_at"] == "2030-01-02T03:05:35.678000Z"
    assert data["states"]["queued"] == {"jobs": 3, "audio_s": 5400.0, "audio_h": 1.5}
    assert data["oldest_queued"] == {
        "id": claimed.id + 1,
        "path": "/a/1.wav",
        "created_at": "2030-01-02T03:04:05.678000Z",
        "age_s": 90.0,
    }
    assert data["top_failures"] == [
        {"error_kind": "invalid_audio", "reason": "empty file (0 bytes)", "jobs": 1}
    ]
    assert data["workers"] == [
        {
            "owner": "host-1:42:abcd",
            "running": 1,
            "lease_expires_at": "2030-01-02T03:06:35.678000Z",
            "host": "host-1",
            "pid": 42,
            "job_ids": [claimed.id],
            "live": True,
        }
    ]
    assert data["turns_ended_by_close"] == 0
    assert data["end_latency"] == {"turns": 0, "p50_s": None, "p90_s": None}
    assert data["uncovered"] == 0
    assert data["pieces"] == {"split_running": 0, "states": {}}


def test_job_json_keys_in_their_documented_order(store_url: str) -> None:
    with Store.open(store_url, now=lambda: T0) as store:
        store.enqueue_many([NewJob("/a/x.wav", "k", "fp", {}, 3, duration_s=2.0, label="x")])
        [job] = store.jobs()
    data = json.loads(json.dumps(job_json(job)))
    assert list(data) == [
        "id", "state", "attempts", "max_attempts", "duration_s", "path", "label", "reason",
        "error_kind", "sha256", "size_bytes", "format", "subtype", "sample_rate", "channels",
        "frames", "priority", "fingerprint", "run_after", "lease_owner", "lease_expires_at",
        "created_at", "updated_at", "finished_at", "coverage", "uncovered_s",
        "end_latency_p50_s", "end_latency_p90_s",
    ]  # fmt: skip
    assert (data["state"], data["path"], data["label"], data["max_attempts"]) == (
        "queued", "/a/x.wav", "x", 3,
    )  # fmt: skip
    assert data["created_at"] == data["run_after"] == "2030-01-02T03:04:05.678000Z"
    assert data["finished_at"] is None
    assert data["coverage"] is data["end_latency_p50_s"] is None  # no speech map yet
