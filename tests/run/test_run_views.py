"""What ``jobrunner run`` prints, pinned byte for byte: the ``--json`` line of an outcome
(schema ``jobrunner.run/1``), the summary object (``jobrunner.run-summary/1``) and the summary
line on stderr. Scripts parse these; keys are only ever added."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jobrunner.cli.run_views import outcome_json, summary_json, summary_line
from jobrunner.errors import AuthenticationError
from jobrunner.run import Counts, JobOutcome, RunSummary, SpeechResults
from jobrunner.timing.latency import Latencies


def dumped(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def test_an_outcome_line_keeps_its_keys_order_and_rounding() -> None:
    outcome = JobOutcome(
        job_id=7,
        path="/calls/ä b.wav",
        label="calls",
        outcome="retry",
        attempt=2,
        duration_s=12.34567,
        audio_s=3.21049,
        wall_s=1.00049,
        turns=0,
        error_kind="connection_lost",
        reason="connection lost: close code 1006",
        run_after=datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        request_id="req-1",
    )
    assert dumped(outcome_json(outcome)) == (
        '{"schema": "jobrunner.run/1", "job_id": 7, "path": "/calls/ä b.wav", '
        '"label": "calls", "outcome": "retry", "attempt": 2, "duration_s": 12.346, '
        '"audio_s": 3.21, "wall_s": 1.0, "turns": 0, "transcript": null, '
        '"error_kind": "connection_lost", "reason": "connection lost: close code 1006", '
        '"run_after": "2026-01-02T03:04:05.600000Z", "request_id": "req-1"}'
    )


def test_the_summary_object_and_line_keep_their_shape() -> None:
    counts = Counts(
        claimed=9, succeeded=5, failed=1, invalid=1, retries=3, released=1, cancelled=1,
        rate_limited=4, done_audio_s=5400.0, turns_ended_by_close=2,
    )  # fmt: skip
    summary = RunSummary(
        counts, elapsed_s=61.23456, ceiling=8, final_limit=4, lowest_limit=2, interrupted=False,
        stop_error=AuthenticationError("401: bad key"), others_running=0,
    )  # fmt: skip
    assert dumped(summary_json(summary)) == (
        '{"schema": "jobrunner.run-summary/1", "claimed": 9, "succeeded": 5, "failed": 1, '
        '"invalid": 1, "retries": 3, "released": 1, "cancelled": 1, "elapsed_s": 61.235, '
        '"audio_s": 5400.0, "concurrency": 8, "lowest_concurrency": 2, "rate_limited": 4, '
        '"interrupted": false, "stop_error": "401: bad key", "exit_code": 3, '
        '"turns_ended_by_close": 2, "aligned": 0, "uncovered": 0, '
        '"end_latency": {"turns": 0, "p50_s": null, "p90_s": null}}'
    )
    assert summary_line(summary) == (
        "run: 5 succeeded, 1 failed, 1 invalid, 3 retried, 1 released, 1 cancelled, "
        "2 turns ended by the server's close in 61.2 s "
        "(1.500 h audio; concurrency 8, lowered to 2 by 4 rate limits)"
    )
    quiet = RunSummary(
        Counts(succeeded=2, done_audio_s=20.0), elapsed_s=3.0, ceiling=4, final_limit=4,
        lowest_limit=4, interrupted=False, stop_error=None, others_running=0,
    )  # fmt: skip
    assert summary_line(quiet) == (
        "run: 2 succeeded, 0 failed, 0 invalid, 0 retried in 3.0 s (0.006 h audio; concurrency 4)"
    )


def test_the_summary_says_what_the_speech_map_found() -> None:
    speech = SpeechResults(Latencies.of([0.7, 0.6, None, 1.9, 0.65]), aligned=3, uncovered=1)
    summary = RunSummary(
        Counts(succeeded=3, done_audio_s=36.0), elapsed_s=9.0, ceiling=4, final_limit=4,
        lowest_limit=4, interrupted=False, stop_error=None, others_running=0, speech=speech,
    )  # fmt: skip
    assert summary_line(summary) == (
        "run: 3 succeeded, 0 failed, 0 invalid, 0 retried, 1 with speech outside every turn "
        "in 9.0 s (0.010 h audio; concurrency 4; end_latency_s p50 0.650 s, p90 1.900 s "
        "(4 turns))"
    )
    data = summary_json(summary)
    assert (data["aligned"], data["uncovered"]) == (3, 1)
    assert data["end_latency"] == {"turns": 4, "p50_s": 0.65, "p90_s": 1.9}
