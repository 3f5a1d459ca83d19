"""What a run reports: one :class:`JobOutcome` per attempt, live :class:`RunSnapshot` figures,
and the final :class:`RunSummary` with the process exit code. Plain data, no I/O.

The counters live in one place, :class:`Counts`: the worker keeps the current value, and every
snapshot and the summary embed the value of their moment. How a run is shown (the ``--json``
schemas, the summary line) is the CLI's business (:mod:`jobrunner.cli.run_views`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from jobrunner.errors import JobrunnerError
from jobrunner.timing.latency import Latencies

#: what became of one attempt
Outcome = Literal[
    "succeeded", "retry", "failed", "invalid", "released", "cancelled", "lost", "split"
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class JobOutcome:
    """One attempt's end. ``outcome``: ``succeeded``; ``retry`` (queued again from
    ``run_after``); ``failed``/``invalid`` (for good, ``reason`` says why); ``released`` (given
    back at shutdown, no attempt spent); ``cancelled`` (by ``jobrunner cancel`` while it ran);
    ``lost`` (our lease was gone: reaped after we failed to renew it; nothing written);
    ``split`` (cut into pieces, which are queued; no attempt spent).
    ``turns_ended_by_close``: of a success's turns, those the server's normal close ended
    (their text is the last update). ``parent_id``: the attempt was at a piece of that job;
    ``parent_state``: the job's state when this attempt changed it (``succeeded``: the last
    piece, the job is stitched)."""

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
    turns_ended_by_close: int = 0
    parent_id: int | None = None
    parent_state: str | None = None

    @property
    def finished_job(self) -> int | None:
        """The job this success finished: its own, or for the last piece its parent's."""
        if self.outcome != "succeeded":
            return None
        if self.parent_id is None:
            return self.job_id
        return self.parent_id if self.parent_state == "succeeded" else None


@dataclass(frozen=True)
class Counts:
    """A run's counters. Jobs "done" reached a final state in this run. ``queued`` and
    ``queued_audio_s`` are estimates for progress: refreshed from the store, kept current in
    between by :meth:`took` and :meth:`counted`."""

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
    #: turns of this run's successes that the server's normal close ended (text = last update)
    turns_ended_by_close: int = 0
    done_audio_s: float = 0.0
    claimed_audio_s: float = 0.0
    queued: int = 0
    queued_audio_s: float = 0.0

    @property
    def jobs_done(self) -> int:
        return self.succeeded + self.failed + self.invalid

    @property
    def mean_claimed_s(self) -> float:
        return self.claimed_audio_s / self.claimed if self.claimed else 0.0

    def took(self, duration_s: float) -> Counts:
        """A job was claimed: it leaves the queue."""
        return replace(
            self,
            claimed=self.claimed + 1,
            claimed_audio_s=self.claimed_audio_s + duration_s,
            queued=max(0, self.queued - 1),
            queued_audio_s=max(0.0, self.queued_audio_s - duration_s),
        )

    def counted(self, outcome: JobOutcome) -> Counts:
        """An attempt ended: done for good, back in the queue, or gone (cancelled, lost).
        Counts are of jobs: a piece's success counts its audio, and the job once stitched;
        a split counts nothing (the job was counted when claimed, its pieces are not)."""
        kind, seconds = outcome.outcome, outcome.duration_s
        if kind == "split":
            return self
        if kind == "succeeded" and outcome.finished_job is None:  # a piece, its job not done
            return replace(self, done_audio_s=self.done_audio_s + seconds)
        if kind == "succeeded":
            new = replace(
                self,
                succeeded=self.succeeded + 1,
                turns_ended_by_close=self.turns_ended_by_close + outcome.turns_ended_by_close,
            )
        elif kind == "failed":
            new = replace(self, failed=self.failed + 1)
        elif kind == "invalid":
            new = replace(self, invalid=self.invalid + 1)
        elif kind == "retry":
            new = replace(self, retries=self.retries + 1)
        elif kind == "released":
            new = replace(self, released=self.released + 1)
        else:
            new = replace(self, cancelled=self.cancelled + 1)
        if kind in ("succeeded", "failed", "invalid"):
            return replace(new, done_audio_s=new.done_audio_s + seconds)
        if kind in ("retry", "released"):  # back in the queue
            return replace(new, queued=new.queued + 1, queued_audio_s=new.queued_audio_s + seconds)
        return new


@dataclass(frozen=True)
class LeaseWait:
    """Jobs running under another worker's leases that the run waits for: ``holder`` is
    ``host:pid`` (or the owner id), ``expires_in_s`` when the first of its leases expires
    unless renewed (then the run reaps it and runs the job)."""

    holder: str
    jobs: int
    expires_in_s: float


@dataclass(frozen=True)
class RunSnapshot:
    """Live figures for a progress display: the counts, what runs right now, and what the run
    waits for when it has nothing to claim (``waiting``)."""

    counts: Counts
    elapsed_s: float
    ceiling: int
    limit: int
    running: int
    running_audio_s: float
    running_audio_left_s: float
    pace: float
    stopping: bool
    waiting: tuple[LeaseWait, ...] = ()

    @classmethod
    def of(
        cls,
        counts: Counts,
        *,
        elapsed_s: float,
        running: Sequence[tuple[float, float]],
        limit: int,
        ceiling: int,
        pace: float,
        stopping: bool,
        waiting: tuple[LeaseWait, ...] = (),
    ) -> RunSnapshot:
        """``running``: (duration, seconds since its session started) per running job."""
        return cls(
            counts=counts,
            elapsed_s=elapsed_s,
            ceiling=ceiling,
            limit=limit,
            running=len(running),
            running_audio_s=sum(duration for duration, _ in running),
            running_audio_left_s=sum(max(0.0, d - age * pace) for d, age in running),
            pace=pace,
            stopping=stopping,
            waiting=waiting,
        )

    @property
    def jobs_total(self) -> int:
        return self.counts.jobs_done + self.running + self.counts.queued

    @property
    def audio_total_s(self) -> float:
        return self.counts.done_audio_s + self.running_audio_s + self.counts.queued_audio_s

    @property
    def eta_s(self) -> float:
        """Remaining audio over the audio the live sessions get through per second: at
        ``pace`` x realtime each, as many sessions as the limit allows and jobs remain."""
        left_jobs = self.running + self.counts.queued
        if left_jobs == 0:
            return 0.0
        lanes = max(1, min(self.limit, left_jobs))
        return (self.counts.queued_audio_s + self.running_audio_left_s) / (lanes * self.pace)


@dataclass(frozen=True)
class SpeechResults:
    """What aligning this run's transcripts with their speech maps found: p50/p90 of the
    turns' ``end_latency_s``, jobs aligned, and jobs the coverage check flagged."""

    end_latency: Latencies = Latencies()
    aligned: int = 0
    uncovered: int = 0


@dataclass(frozen=True)
class RunSummary:
    """How a run ended: its counts, its concurrency, and why it stopped if it was stopped.
    ``others_running``: jobs running under other workers' leases at the end; ``speech``: the
    speech map's findings on this run's succeeded jobs (:mod:`jobrunner.run.prefetch`)."""

    counts: Counts
    elapsed_s: float
    ceiling: int
    final_limit: int
    lowest_limit: int
    interrupted: bool
    stop_error: JobrunnerError | None
    others_running: int
    speech: SpeechResults = SpeechResults()

    @property
    def exit_code(self) -> int:
        """3 auth/credits, 2 configuration/database, 130 interrupted, 1 some job failed or was
        invalid, else 0."""
        if self.stop_error is not None:
            return self.stop_error.exit_code
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.counts.failed or self.counts.invalid else EXIT_OK


__all__ = [
    "Counts",
    "JobOutcome",
    "LeaseWait",
    "Outcome",
    "RunSnapshot",
    "RunSummary",
    "SpeechResults",
]
