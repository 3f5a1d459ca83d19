"""The API key never reaches the database, a log line, an export, or an error message.

A whole session of use, as a subprocess with debug logging on: a run that succeeds, a run whose
key the server refuses (with faults so errors are logged too), then every export format. Every
byte the user could see or keep afterwards is searched for the key.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import Serve, fast_settings
from workerkit import enqueue, jobrunner, make_files, profile_file

from jobrunner.store import Store

KEY = "sk_car_leakcanary_5f2d9a"
WRONG = "sk_car_wrongcanary_77c1e0"


def run(db_url: str, profile: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``jobrunner -vv ... ARGS`` with ``key``, to its end."""
    proc = jobrunner(db_url, profile, "-vv", *args, key=key)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_the_key_is_nowhere_after_runs_failures_and_exports(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 3)
    server = serve(api_key=KEY, faults="drop@0.5=first:1,error_500@0.5=first:1")
    enqueue(store, fast_settings(server, db_url), tmp_path / "audio")
    profile = profile_file(tmp_path, server)

    refused = run(db_url, profile, WRONG, "run", "--json")
    assert refused.returncode == 3
    assert "401" in refused.stderr
    ran = run(db_url, profile, KEY, "run", "--json")
    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    outcomes = [obj["outcome"] for obj in lines if obj["schema"] == "jobrunner.run/1"]
    assert outcomes.count("succeeded") == 3
    assert server.stats.faults_total == 2  # failures happened and were logged

    seen = [refused.stdout, refused.stderr, ran.stdout, ran.stderr]
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        done = run(db_url, profile, KEY, "export", "--format", fmt, "-o", str(out))
        assert done.returncode == 0, done.stderr
        seen += [done.stdout, done.stderr, out.read_text(encoding="utf-8")]
    for fmt in ("srt", "vtt", "txt"):
        folder = tmp_path / fmt
        done = run(db_url, profile, KEY, "export", "--format", fmt, "-o", str(folder))
        assert done.returncode == 0, done.stderr
        seen += [p.read_text(encoding="utf-8") for p in folder.iterdir()]
    for command in (["status", "--json"], ["jobs", "--json"]):
        shown = run(db_url, profile, KEY, *command)
        assert shown.returncode == 0, shown.stderr
        seen += [shown.stdout, shown.stderr]

    store.close()
    database = Path(db_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert len(stored) > 0
    for secret in (KEY, WRONG):
        assert secret.encode() not in stored
        for text in seen:
            assert secret not in text
