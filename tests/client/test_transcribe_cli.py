"""``jobrunner transcribe`` as a user runs it: a real process, real stdout and stderr bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clientkit import EXPECTED, TURNS
from helpers import Serve

from jobrunner.server.tones import turn_texts


def jobrunner(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTESIA_", "JOBRUNNER_"))}
    return subprocess.run(
        [sys.executable, "-m", "jobrunner", "--profile", "local", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_stdout_is_exactly_the_transcript_and_one_newline(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    done = jobrunner("transcribe", "--base-url", server.url, "--pace", "20", str(tone_wav))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == (EXPECTED + "\n").encode("utf-8")
    live = done.stderr.decode("utf-8")
    assert "connected" in live
    assert "turn 1 resume" in live and "'Hello there.'" in live  # live turn events on stderr


def test_json_prints_one_event_per_line_and_a_final_result(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    done = jobrunner(
        "transcribe", "--json", "--base-url", server.url, "--pace", "20", "--chunk-ms", "40",
        str(tone_wav),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    events, result = lines[:-1], lines[-1]
    assert events[0]["type"] == "connected"
    ends = [e for e in events if e["type"] == "turn.end"]
    assert [e["transcript"] for e in ends] == turn_texts(TURNS)
    assert [e["turn"] for e in ends] == list(range(len(TURNS)))
    assert all(e["request_id"] == result["request_id"] for e in events)
    assert result["type"] == "result" and result["transcript"] == EXPECTED
    assert [t["transcript"] for t in result["turns"]] == turn_texts(TURNS)
    assert server.handshakes[-1].request_id == result["request_id"]


def test_failure_exits_non_zero_with_one_line_and_no_transcript(
    serve: Serve, tone_wav: Path
) -> None:
    server = serve(api_key="the-right-one")
    done = jobrunner("transcribe", "--base-url", server.url, str(tone_wav))
    assert done.returncode == 3  # authentication
    assert done.stdout == b""
    message = done.stderr.decode().strip()
    assert message.count("\n") == 0 and "401" in message and "CARTESIA_API_KEY" in message

    broken = serve(faults="error_500@0.5=1.0")
    done = jobrunner("transcribe", "--base-url", broken.url, "--pace", "20", str(tone_wav))
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode().strip().splitlines()[-1].startswith("jobrunner: error:")


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    done = jobrunner("transcribe", str(tmp_path / "nope.wav"))
    assert done.returncode == 2 and done.stdout == b""
