"""What a run reports: one :class:`JobOutcome` per attempt, live :class:`RunSnapshot` figures,
and the final :class:`RunSummary` with the process exit code. Plain data, no I/O.

``JobOutcome.to_json()`` is the line ``jobrunner run --json`` prints (schema
``jobrunner.run/1``); keys are only ever added, never renamed or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jobrunner.errors import JobrunnerError
from jobrunner.formatting import iso

#: what became of one attempt
Outcome = Literal["succeeded", "retry", "failed", "invalid", "released", "cancelled", "lost"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class JobOutcome:
    """One attempt's end. ``outcome``: ``succeeded``; ``retry`` (queued again from
    ``run_after``); ``failed``/``invalid`` (for good, ``reason`` says why); ``released`` (given
    back at shutdown, no attempt spent); ``cancelled`` (by ``jobrunner cancel`` while it ran);
    ``lost`` (our lease was gone: reaped after we failed to renew it; nothing written)."""

    job_id: int
    path: str
    label: str | None
    outcome: Outcome
    attempt: int
    duration_s: float
    audio_s: float
    wall_s: float
    turns: int = 0
    transcript: str | None = None
    error_kind: str | None = None
    reason: str | None = None
    run_after: datetime | None = None
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "jobrunner.run/1",
            "job_id": self.job_id,
            "path": self.path,
            "label": self.label,
            "outcome": self.outcome,
            "attempt": self.attempt,
            "duration_s": round(self.duration_s, 3),
            "audio_s": round(self.audio_s, 3),
            "wall_s": round(self.wall_s, 3),
            "turns": self.turns,
            "transcript": self.transcript,
            "error_kind": self.error_kind,
            "reason": self.reason,
            "run_after": iso(self.run_after),
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class RunSnapshot:
    """Live figures for a progress display. Jobs "done" reached a final state in this run."""

    elapsed_s: float
    ceiling: int
    limit: int
    running: int
    claimed: int
    succeeded: int
    failed: int
    invalid: int
    retries: int
    released: int
    cancelled: int
    queued: int
    queued_audio_s: float
    running_audio_s: float
    running_audio_left_s: float
    done_audio_s: float
    pace: float
    stopping: bool

    @property
    def jobs_done(self) -> int:
        return self.succeeded + self.failed + self.invalid

    @property
    def jobs_total(self) -> int:
        return self.jobs_done + self.running + self.queued

    @property
    def audio_total_s(self) -> float:
        return self.done_audio_s + self.running_audio_s + self.queued_audio_s

    @property
    def eta_s(self) -> float | None:
        """Remaining audio over the audio the live sessions get through per second: at
        ``pace`` x realtime each, as many sessions as the limit allows and jobs remain."""
        left_jobs = self.running + self.queued
        if left_jobs == 0:
            return 0.0
        lanes = max(1, min(self.limit, left_jobs))
        return (self.queued_audio_s + self.running_audio_left_s) / (lanes * self.pace)


@dataclass(frozen=True)
class RunSummary:
    claimed: int
    succeeded: int
    failed: int
    invalid: int
    retries: int
    released: int
    cancelled: int
    requeued_failed: int
    reaped: int
    rate_limited: int
    connect_retries: int
    elapsed_s: float
    audio_s: float
    ceiling: int
    final_limit: int
    lowest_limit: int
    interrupted: bool
    stop_error: JobrunnerError | None
    others_running: int

    @property
    def exit_code(self) -> int:
        """3 auth/credits, 2 configuration/database, 130 interrupted, 1 some job failed or was
        invalid, else 0."""
        if self.stop_error is not None:
            return self.stop_error.exit_code
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failed or self.invalid else EXIT_OK

    def line(self) -> str:
        parts = [
            f"{self.succeeded} succeeded",
            f"{self.failed} failed",
            f"{self.invalid} invalid",
            f"{self.retries} retried",
        ]
        if self.released:
            parts.append(f"{self.released} released")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        limit = f"concurrency {self.ceiling}"
        if self.lowest_limit < self.ceiling:
            limit += f", lowered to {self.lowest_limit} by {self.rate_limited} rate limits"
        hours = self.audio_s / 3600
        return f"run: {', '.join(parts)} in {self.elapsed_s:.1f} s ({hours:.3f} h audio; {limit})"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "jobrunner.run-summary/1",
            "claimed": self.claimed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "invalid": self.invalid,
            "retries": self.retries,
            "released": self.released,
            "cancelled": self.cancelled,
            "elapsed_s": round(self.elapsed_s, 3),
            "audio_s": round(self.audio_s, 3),
            "concurrency": self.ceiling,
            "lowest_concurrency": self.lowest_limit,
            "rate_limited": self.rate_limited,
            "interrupted": self.interrupted,
            "stop_error": None if self.stop_error is None else str(self.stop_error),
            "exit_code": self.exit_code,
        }


@dataclass
class Tally:
    """A run's counters. Mutable; only the worker's event loop writes them. ``queued`` and
    ``queued_audio_s`` are for progress: refreshed from the store, kept current in between."""

    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    invalid: int = 0
    retries: int = 0
    released: int = 0
    cancelled: int = 0
    rate_limited: int = 0
    connect_retries: int = 0
    requeued_failed: int = 0
    reaped: int = 0
    done_audio_s: float = 0.0
    queued: int = 0
    queued_audio_s: float = 0.0
    claimed_audio_s: float = 0.0
    stop_error: JobrunnerError | None = None
    interrupted: bool = False

    @property
    def mean_claimed_s(self) -> float:
        return self.claimed_audio_s / self.claimed if self.claimed else 0.0

    def took(self, duration_s: float) -> None:
        """A job was claimed: it leaves the queue."""
        self.claimed += 1
        self.claimed_audio_s += duration_s
        self.queued = max(0, self.queued - 1)
        self.queued_audio_s = max(0.0, self.queued_audio_s - duration_s)

    def count(self, outcome: JobOutcome) -> None:
        kind, seconds = outcome.outcome, outcome.duration_s
        if kind == "succeeded":
            self.succeeded += 1
        elif kind == "failed":
            self.failed += 1
        elif kind == "invalid":
            self.invalid += 1
        elif kind == "retry":
            self.retries += 1
        elif kind == "released":
            self.released += 1
        else:
            self.cancelled += 1
        if kind in ("succeeded", "failed", "invalid"):
            self.done_audio_s += seconds
        elif kind in ("retry", "released"):  # back in the queue
            self.queued += 1
            self.queued_audio_s += seconds

    def snapshot(
        self,
        *,
        elapsed_s: float,
        running: Sequence[tuple[float, float]],
        limit: int,
        ceiling: int,
        pace: float,
        stopping: bool,
    ) -> RunSnapshot:
        """``running``: (duration, seconds since its session started) per running job."""
        return RunSnapshot(
            elapsed_s=elapsed_s,
            ceiling=ceiling,
            limit=limit,
            running=len(running),
            claimed=self.claimed,
            succeeded=self.succeeded,
            failed=self.failed,
            invalid=self.invalid,
            retries=self.retries,
            released=self.released,
            cancelled=self.cancelled,
            queued=self.queued,
            queued_audio_s=self.queued_audio_s,
            running_audio_s=sum(duration for duration, _ in running),
            running_audio_left_s=sum(max(0.0, d - age * pace) for d, age in running),
            done_audio_s=self.done_audio_s,
            pace=pace,
            stopping=stopping,
        )

    def summary(
        self, *, elapsed_s: float, ceiling: int, limit: int, lowest: int, others: int
    ) -> RunSummary:
        return RunSummary(
            claimed=self.claimed,
            succeeded=self.succeeded,
            failed=self.failed,
            invalid=self.invalid,
            retries=self.retries,
            released=self.released,
            cancelled=self.cancelled,
            requeued_failed=self.requeued_failed,
            reaped=self.reaped,
            rate_limited=self.rate_limited,
            connect_retries=self.connect_retries,
            elapsed_s=elapsed_s,
            audio_s=self.done_audio_s,
            ceiling=ceiling,
            final_limit=limit,
            lowest_limit=lowest,
            interrupted=self.interrupted,
            stop_error=self.stop_error,
            others_running=others,
        )


__all__ = ["JobOutcome", "Outcome", "RunSnapshot", "RunSummary", "Tally"]
