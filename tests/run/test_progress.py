"""What ``jobrunner run`` shows while it runs (cli/progress.py): JSON lines on stdout, one line
per failure on stderr, and the live display's text for a given moment of a run."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console

from jobrunner.cli.progress import LiveProgress, choose_reporter
from jobrunner.run import Counts, JobOutcome, LeaseWait, Outcome, RunSnapshot


def outcome(kind: Outcome, job_id: int = 3, reason: str | None = None) -> JobOutcome:
    return JobOutcome(
        job_id=job_id,
        path=f"/calls/call{job_id}.wav",
        label=None,
        outcome=kind,
        attempt=1,
        duration_s=8.0,
        audio_s=8.0 if kind == "succeeded" else 2.5,
        wall_s=0.5,
        transcript="Hello there." if kind == "succeeded" else None,
        reason=reason,
    )


OUTCOMES = [
    outcome("succeeded", 1),
    outcome("retry", 2, "connection lost: close code 1006"),
    outcome("failed", 3, "request rejected (400): unsupported encoding"),
    outcome("invalid", 4, "/calls/call4.wav: truncated"),
    outcome("released", 5, "given back at shutdown (no attempt spent)"),
]


def report(*, quiet: bool = False, as_json: bool = False, progress: bool | None = None) -> None:
    with choose_reporter(quiet=quiet, as_json=as_json, progress=progress) as reporter:
        for o in OUTCOMES:
            reporter.on_outcome(o)


def test_json_prints_one_line_per_outcome_on_stdout_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report(as_json=True)
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["job_id"], line["outcome"]) for line in lines] == [
        (1, "succeeded"),
        (2, "retry"),
        (3, "failed"),
        (4, "invalid"),
        (5, "released"),
    ]
    assert lines[0]["transcript"] == "Hello there." and lines[1]["reason"].startswith("conn")
    assert err == ""


def test_without_a_terminal_only_failures_are_printed_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report()  # stderr is not a TTY here
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "failed   #3 /calls/call3.wav: request rejected (400): unsupported encoding",
        "invalid  #4 /calls/call4.wav: /calls/call4.wav: truncated",
    ]


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    report(quiet=True)
    assert capsys.readouterr() == ("", "")


def rendered(snapshot: RunSnapshot, *failures: JobOutcome) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, force_terminal=False)
    live = LiveProgress(console)
    for failure in failures:
        live.on_outcome(failure)
    live.on_progress(snapshot)
    console.print(live.progress.get_renderable())
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def test_the_live_display_shows_files_audio_eta_sessions_and_failures() -> None:
    counts = Counts(
        claimed=4, succeeded=2, failed=1, invalid=1, retries=3, done_audio_s=1800.0,
        queued=2, queued_audio_s=1800.0,
    )  # fmt: skip
    # two 15-minute files running at pace 1: one just started, one half sent
    snapshot = RunSnapshot.of(
        counts, elapsed_s=60.0, running=[(900.0, 0.0), (900.0, 450.0)], limit=2, ceiling=8,
        pace=1.0, stopping=False,
    )  # fmt: skip
    failed = outcome("failed", 3, "request rejected (400): unsupported encoding")
    failure_line, files, audio = rendered(snapshot, failed)
    assert (
        failure_line == "failed   #3 /calls/call3.wav: request rejected (400): unsupported encoding"
    )
    assert files.startswith("files ")
    assert files.endswith(" 4/8 live 2/2 (max 8) · 3 retries · 2 failed")
    assert audio.startswith("audio ")
    # 1.5 h of audio in all; (1800 queued + 1350 left to send) / 2 sessions = 26:15
    assert audio.endswith(" 0.50/1.50 h ETA 0:26:15")


def test_the_live_display_says_when_the_run_is_stopping_at_full_concurrency() -> None:
    snapshot = RunSnapshot.of(
        Counts(claimed=1, succeeded=1, done_audio_s=10.0), elapsed_s=5.0, running=[(10.0, 1.0)],
        limit=8, ceiling=8, pace=2.0, stopping=True,
    )  # fmt: skip
    files, audio = rendered(snapshot)
    assert files.endswith(" 1/2 live 1/8 · 0 retries · 0 failed · stopping")
    assert audio.endswith(" 0.00/0.01 h ETA 0:00:04")


def test_the_live_display_says_whose_leases_the_run_waits_for() -> None:
    waiting = (LeaseWait("host-b:1234", 3, 41.2), LeaseWait("host-c:77", 1, -0.5))
    snapshot = RunSnapshot.of(
        Counts(claimed=2, succeeded=2, done_audio_s=20.0), elapsed_s=9.0, running=[], limit=4,
        ceiling=4, pace=1.0, stopping=False, waiting=waiting,
    )  # fmt: skip
    news, files, _ = rendered(snapshot)
    assert news == (
        "run: waiting for 3 jobs leased by host-b:1234 (expire in 41 s), "
        "1 job leased by host-c:77 (expired)"
    )
    assert files.endswith(
        " 2/2 live 0/4 · 0 retries · 0 failed · waiting for 4 leased jobs (reaping)"
    )
    _, files, _ = rendered(replace(snapshot, waiting=waiting[:1]))
    assert files.endswith(" · waiting for 3 leased jobs (first lease expires in 41 s)")


def test_without_a_terminal_a_wait_is_one_line_when_it_starts_or_whom_it_waits_for_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def moment(*waiting: LeaseWait) -> RunSnapshot:
        return RunSnapshot.of(
            Counts(), elapsed_s=1.0, running=[], limit=4, ceiling=4, pace=1.0, stopping=False,
            waiting=waiting,
        )  # fmt: skip

    with choose_reporter(quiet=False, as_json=False, progress=None) as reporter:
        reporter.on_progress(moment())
        reporter.on_progress(moment(LeaseWait("host-b:1234", 3, 41.0)))
        reporter.on_progress(moment(LeaseWait("host-b:1234", 2, 38.0)))  # same worker
        reporter.on_progress(moment(LeaseWait("host-b:1234", 2, 60.0), LeaseWait("c:7", 1, 9)))
        reporter.on_progress(moment())
    assert capsys.readouterr().err.splitlines() == [
        "run: waiting for 3 jobs leased by host-b:1234 (expire in 41 s)",
        "run: waiting for 2 jobs leased by host-b:1234 (expire in 60 s), "
        "1 job leased by c:7 (expires in 9 s)",
    ]
