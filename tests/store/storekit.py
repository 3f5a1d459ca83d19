"""Helpers of the store tests: a hand-cranked clock and job rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobrunner.store import AttemptRecord, NewJob


class Clock:
    """An injected clock: time moves only when a test says so."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


def new_job(i: int, **changes: object) -> NewJob:
    values: dict[str, object] = {
        "path": f"/audio/{i:05d}.wav",
        "idempotency_key": f"{i:064x}:fp",
        "fingerprint": "fp",
        "settings": {"model": "ink-2", "encoding": "auto"},
        "max_attempts": 3,
        "sha256": f"{i:064x}",
        "size_bytes": 32044,
        "format": "WAV",
        "subtype": "PCM_16",
        "sample_rate": 16000,
        "channels": 1,
        "frames": 16000,
        "duration_s": 1.0,
    }
    values.update(changes)
    return NewJob(**values)  # type: ignore[arg-type]


def attempt(number: int, owner: str, clock: Clock, **changes: object) -> AttemptRecord:
    values: dict[str, object] = {
        "number": number,
        "worker": owner,
        "started_at": clock(),
        "ended_at": clock(),
        "request_id": f"req-{number}",
        "audio_seconds_sent": 1.0,
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
        "channel_policy": "mono",
    }
    values.update(changes)
    return AttemptRecord(**values)  # type: ignore[arg-type]
