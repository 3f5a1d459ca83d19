"""Helpers of the export tests: jobs put into a real store through its public verbs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from jobrunner.store import AttemptRecord, NewJob, Store, TurnRow, make_owner, utcnow

OWNER = make_owner()


def new_job(path: str, label: str | None = None, **changes: object) -> NewJob:
    digest = hashlib.sha256(f"{path}|{label}".encode()).hexdigest()
    values: dict[str, object] = {
        "path": path,
        "idempotency_key": f"{digest}:fp",
        "fingerprint": "fp",
        "settings": {"model": "ink-2", "encoding": "auto"},
        "max_attempts": 1,
        "sha256": digest,
        "size_bytes": 32044,
        "format": "WAV",
        "subtype": "PCM_16",
        "sample_rate": 16000,
        "channels": 1,
        "frames": 160000,
        "duration_s": 10.0,
        "label": label,
    }
    values.update(changes)
    return NewJob(**values)  # type: ignore[arg-type]


def _attempt(number: int, **changes: object) -> AttemptRecord:
    now = utcnow()
    values: dict[str, object] = {
        "number": number,
        "worker": OWNER,
        "started_at": now,
        "ended_at": now,
        "request_id": f"req-{number}",
        "audio_seconds_sent": 10.0,
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
        "channel_policy": "mono",
    }
    values.update(changes)
    return AttemptRecord(**values)  # type: ignore[arg-type]


def turn_rows(texts: Sequence[str], *, start: float = 0.4, gap: float = 2.0) -> list[TurnRow]:
    """Turns with plausible timings: turn k starts at ``start + k * gap`` audio seconds."""
    rows = []
    for k, text in enumerate(texts):
        begin = start + k * gap
        rows.append(
            TurnRow(
                index=k,
                transcript=text,
                start_audio_s=begin,
                first_update_audio_s=begin + 0.3,
                eager_end_audio_s=begin + 1.2,
                end_audio_s=begin + 1.5,
                updates=2,
                eager_ends=1,
                start_wall_s=begin + 0.05,
                end_wall_s=begin + 1.55,
            )
        )
    return rows


def _claim_only(store: Store, job: NewJob) -> int:
    [inserted] = store.enqueue_many([job])
    [claimed] = store.claim(1, OWNER, lease_ttl=60)
    assert claimed.id == inserted.job_id, "another job was queued: add queued jobs last"
    return claimed.id


def add_succeeded(
    store: Store,
    path: str,
    texts: Sequence[str],
    *,
    label: str | None = None,
    turns: Sequence[TurnRow] | None = None,
) -> int:
    """A succeeded job whose transcript is ``texts`` joined verbatim."""
    job_id = _claim_only(store, new_job(path, label))
    rows = list(turns) if turns is not None else turn_rows(texts)
    store.complete(job_id, OWNER, _attempt(1), rows, "".join(r.transcript for r in rows))
    return job_id


def add_failed(store: Store, path: str, reason: str, *, label: str | None = None) -> int:
    job_id = _claim_only(store, new_job(path, label))
    store.fail(job_id, OWNER, _attempt(1, error_kind="rejected"), reason, "rejected")
    return job_id


def add_invalid(store: Store, path: str, reason: str, *, label: str | None = None) -> int:
    [inserted] = store.enqueue_many([new_job(path, label, reason=reason, sha256=None)])
    return inserted.job_id


def add_queued(store: Store, path: str, *, label: str | None = None) -> int:
    [inserted] = store.enqueue_many([new_job(path, label)])
    return inserted.job_id
