"""What ``jobrunner run`` prints about its outcomes and its end: the ``--json`` schemas and the
one-line summary. Keys of a schema are only ever added, never renamed or removed: scripts
parse them (``jq``).

* ``jobrunner.run/1``: one object per attempt outcome (``run --json``).
* ``jobrunner.run-summary/1``: the run's figures and exit code (the last line of
  ``run --json``), with what the speech map found: p50/p90 of ``end_latency_s`` over this
  run's aligned turns, and the jobs the coverage check flagged.
"""

from __future__ import annotations

from typing import Any

from jobrunner.cli.views import latency_json
from jobrunner.formatting import iso
from jobrunner.run import JobOutcome, RunSummary


def outcome_json(outcome: JobOutcome) -> dict[str, Any]:
    return {
        "schema": "jobrunner.run/1",
        "job_id": outcome.job_id,
        "path": outcome.path,
        "label": outcome.label,
        "outcome": outcome.outcome,
        "attempt": outcome.attempt,
        "duration_s": round(outcome.duration_s, 3),
        "audio_s": round(outcome.audio_s, 3),
        "wall_s": round(outcome.wall_s, 3),
        "turns": outcome.turns,
        "transcript": outcome.transcript,
        "error_kind": outcome.error_kind,
        "reason": outcome.reason,
        "run_after": iso(outcome.run_after),
        "request_id": outcome.request_id,
    }


def summary_json(summary: RunSummary) -> dict[str, Any]:
    counts = summary.counts
    return {
        "schema": "jobrunner.run-summary/1",
        "claimed": counts.claimed,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "invalid": counts.invalid,
        "retries": counts.retries,
        "released": counts.released,
        "cancelled": counts.cancelled,
        "elapsed_s": round(summary.elapsed_s, 3),
        "audio_s": round(counts.done_audio_s, 3),
        "concurrency": summary.ceiling,
        "lowest_concurrency": summary.lowest_limit,
        "rate_limited": counts.rate_limited,
        "interrupted": summary.interrupted,
        "stop_error": None if summary.stop_error is None else str(summary.stop_error),
        "exit_code": summary.exit_code,
        "turns_ended_by_close": counts.turns_ended_by_close,
        "aligned": summary.speech.aligned,
        "uncovered": summary.speech.uncovered,
        "end_latency": latency_json(summary.speech.end_latency),
    }


def summary_line(summary: RunSummary) -> str:
    counts = summary.counts
    parts = [
        f"{counts.succeeded} succeeded",
        f"{counts.failed} failed",
        f"{counts.invalid} invalid",
        f"{counts.retries} retried",
    ]
    if counts.released:
        parts.append(f"{counts.released} released")
    if counts.cancelled:
        parts.append(f"{counts.cancelled} cancelled")
    if cut := counts.turns_ended_by_close:
        parts.append(f"{cut} turn{'' if cut == 1 else 's'} ended by the server's close")
    if summary.speech.uncovered:
        parts.append(f"{summary.speech.uncovered} with speech outside every turn")
    limit = f"concurrency {summary.ceiling}"
    if summary.lowest_limit < summary.ceiling:
        limit += f", lowered to {summary.lowest_limit} by {counts.rate_limited} rate limits"
    hours = counts.done_audio_s / 3600
    latency = summary.speech.end_latency
    if latency.turns:
        limit += f"; end_latency_s {latency.describe()}"
    return f"run: {', '.join(parts)} in {summary.elapsed_s:.1f} s ({hours:.3f} h audio; {limit})"


def failure_line(outcome: JobOutcome) -> str:
    """A job that failed or was invalid, as the plain and the live display print it."""
    return f"{outcome.outcome:<8} #{outcome.job_id} {outcome.path}: {outcome.reason}"


__all__ = ["failure_line", "outcome_json", "summary_json", "summary_line"]
