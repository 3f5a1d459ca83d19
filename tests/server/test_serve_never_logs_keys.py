"""``jobrunner -vv serve`` never writes a client's API key to its log, nor shows it in ``ps``.

Users point SDK clients, with their real key, at this server. At ``-vv`` websockets logs every
upgrade request line (``GET ...?api_key=...``) and header (``Authorization: Bearer ...``); the
server's key comes from a file, so it is not on the command line either. The client side is
``tests/run/test_key_never_leaks.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from srvkit import query, run, talk, tone_bytes

KEY = "sk_car_servecanary_3b81f0"
WRONG = "sk_car_servewrong_90aa4d"


@dataclass
class ServeProcess:
    """A ``jobrunner serve`` subprocess whose stderr a thread collects (no pipe can fill up)."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self.collect, daemon=True)
        self._reader.start()

    def stop(self) -> str:
        """SIGTERM, wait for a clean exit, and return everything it wrote to stderr."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        assert code == 0, self.stderr
        return self.stderr

    def collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if not self.ready.is_set() and "jobrunner serve: listening on " in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
                self.ready.set()
        self.ready.set()  # the process ended (before listening, if ``url`` is empty)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def serve_vv(tmp_path: Path) -> Iterator[ServeProcess]:
    """``jobrunner -vv serve --api-key-file FILE`` on a free port; SIGTERM at the end."""
    key_file = tmp_path / "serve.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "jobrunner", "-vv", "serve", "--port", "0",
               "--max-rate", "0", "--api-key-file", str(key_file)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBRUNNER_SERVE_")}
    env["PYTHONUNBUFFERED"] = "1"
    server = ServeProcess(subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env))
    try:
        assert server.ready.wait(60) and server.url, server.stderr
        yield server
    finally:
        server.stop()


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_keys_sent_as_header_and_query_are_masked_at_debug(serve_vv: ServeProcess) -> None:
    url = serve_vv.url
    both = {"Authorization": f"Bearer {KEY}"}  # as SDKs send it, plus the query form
    accepted = run(talk(url, query(api_key=KEY), headers=both, audio=tone_bytes(["ok"])))
    assert accepted.finals == ["ok"] and accepted.close_code == 1000
    other = run(talk(url, query(access_token=KEY), headers={"X-API-Key": KEY}))
    assert other.close_code == 1000
    refused = run(talk(url, query(api_key=WRONG), headers={"Authorization": f"Bearer {WRONG}"}))
    assert refused.status == 401
    if Path("/proc").is_dir():
        assert KEY not in cmdline(serve_vv.proc.pid)  # the key came from the file, not argv

    log = serve_vv.stop()
    for secret in (KEY, WRONG):
        assert secret not in log
    # not because nothing was logged: every upgrade is there, with its credentials masked
    assert log.count("Authorization: Bearer ***") == 2
    assert log.count("api_key=***") == 2
    assert "access_token=***" in log and "X-API-Key: ***" in log
