"""``jobrunner serve`` as a user runs it: a foreground process with one line on stderr."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from helpers import invoke
from srvkit import query, run, talk, tone_bytes


def test_serve_prints_its_url_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "JOBRUNNER_SERVE_API_KEY": "cli-key"}
    command = [sys.executable, "-m", "jobrunner", "serve", "--port", "0", "--max-rate", "0",
               "--faults", "upgrade_503=first:1", "--seed", "4"]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+) \((.*)\)", line)
            assert match, line
            url, details = match.groups()
            assert "API key required" in details and "upgrade_503" in details
            assert "cli-key" not in line
            key = {"X-API-Key": "cli-key"}
            assert run(talk(url, query(), headers=key)).status == 503
            out = run(talk(url, query(), headers=key, audio=tone_bytes(["ok"])))
            assert out.finals == ["ok"] and out.close_code == 1000
            assert run(talk(url, query())).status == 401
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0


def test_help_documents_faults_and_examples() -> None:
    result = invoke(None, "serve", "--help")
    assert result.exit_code == 0
    for words in ("drop@1.5=0.1", "first:N", "--max-sessions", "Examples:", "--public"):
        assert words in result.output
    for words in ("--api-key-file", "JOBRUNNER_SERVE_API_KEY", "ps"):
        assert words in result.output


def test_bad_flags_exit_2_with_one_line() -> None:
    bad_faults = invoke(None, "serve", "--faults", "explode=1")
    assert bad_faults.exit_code == 2 and "--faults" in bad_faults.output
    public = invoke(None, "serve", "--host", "0.0.0.0")
    assert public.exit_code == 2 and "--public" in public.output


def test_the_key_is_given_one_way_and_a_key_file_holds_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "serve.key"
    key_file.write_text("file-key\n", encoding="utf-8")
    both = invoke(None, "serve", "--api-key", "flag-key", "--api-key-file", str(key_file))
    assert both.exit_code == 2 and "one way" in both.output
    from_env = invoke(
        None, "serve", "--api-key-file", str(key_file), env={"JOBRUNNER_SERVE_API_KEY": "env-key"}
    )
    assert from_env.exit_code == 2 and "one way" in from_env.output
    for content in ("", " \n", "two keys\n"):
        key_file.write_text(content, encoding="utf-8")
        bad = invoke(None, "serve", "--api-key-file", str(key_file))
        assert bad.exit_code == 2 and "must hold one key" in bad.output
    missing = invoke(None, "serve", "--api-key-file", str(tmp_path / "nope.key"))
    assert missing.exit_code == 2 and "nope.key" in missing.output
    for output in (both.output, from_env.output, bad.output):
        assert "flag-key" not in output and "env-key" not in output and "keys" not in output
