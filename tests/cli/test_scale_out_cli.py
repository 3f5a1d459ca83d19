"""The CLI on a shared PostgreSQL queue: explicit upgrades, one-line errors, live workers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import invoke
from pg import free_port

from jobrunner.store import NewJob, Store, head_revision, utcnow

HEAD = head_revision()

STORE_COMMANDS = [["status"], ["jobs"], ["db", "upgrade"], ["db", "current"], ["enqueue", "."]]


def with_password(url: str, password: str) -> str:
    return url.replace("postgres@", f"postgres:{password}@", 1)


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_an_unreachable_server_is_one_line_naming_it_but_not_the_password(
    command: list[str],
) -> None:
    port = free_port()  # nothing listens there
    result = invoke(f"postgresql+psycopg://alice:s3cret@127.0.0.1:{port}/jobs", *command)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"jobrunner: error: cannot connect to PostgreSQL at 127.0.0.1:{port} ")
    assert '(database "jobs", user "alice")' in line and "refused" in line
    assert "s3cret" not in result.output + result.stderr


@pytest.mark.postgres
def test_postgresql_is_migrated_only_by_db_upgrade(pg_empty_database: str, tmp_path: Path) -> None:
    url = with_password(pg_empty_database, "s3cret")  # trust auth: accepted and ignored
    refused = invoke(url, "status")
    assert refused.exit_code == 2
    [line] = refused.stderr.splitlines()
    assert "has no jobrunner schema yet: run `jobrunner db upgrade`" in line
    assert "behind: run `jobrunner db upgrade`" in invoke(url, "db", "current").stdout

    upgraded = invoke(url, "db", "upgrade")
    assert upgraded.exit_code == 0 and f"upgraded from empty to {HEAD}" in upgraded.stdout
    assert f"already at revision {HEAD}" in invoke(url, "db", "upgrade").stdout
    assert "s3cret" not in upgraded.stdout and "***" in upgraded.stdout

    for i in range(3):
        t = np.arange(8000) / 16000
        sf.write(tmp_path / f"{i}.wav", 0.1 * np.sin(2 * np.pi * (300 + 100 * i) * t), 16000)
    assert invoke(url, "enqueue", str(tmp_path)).exit_code == 0
    data = json.loads(invoke(url, "status", "--json").stdout)
    assert data["states"]["queued"]["jobs"] == 3


def test_status_shows_each_worker_with_host_pid_sessions_and_lease(store_url: str) -> None:
    jobs = [NewJob(f"/a/{i}.wav", f"key{i}", "fp", {}, 3, duration_s=1.0) for i in range(14)]
    an_hour_ago = utcnow() - timedelta(hours=1)
    with Store.open(store_url, now=lambda: an_hour_ago) as past:
        past.enqueue_many(jobs)
        dead = past.claim(2, "build-2:77:bbbb2222", lease_ttl=60)
    with Store.open(store_url) as store:
        live = store.claim(10, "build-1:4242:aaaa1111", lease_ttl=600)

    result = invoke(store_url, "status")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("workers: 1 live, 1 with expired leases")
    first, second = lines[start + 1 : start + 3]
    ids = [job.id for job in live]
    shown = " ".join(f"#{i}" for i in ids[:8])
    assert first.startswith(f"  build-1:4242:aaaa1111  host build-1 pid 4242  10 running: {shown}")
    assert "+2 more  lease until " in first and "left)" in first
    assert second.startswith("  build-2:77:bbbb2222  host build-2 pid 77  2 running: ")
    assert "lease expired 0:59:" in second and "jobs go back at the next reap" in second

    workers = json.loads(invoke(store_url, "status", "--json").stdout)["workers"]
    assert [(w["host"], w["pid"], w["running"], w["live"]) for w in workers] == [
        ("build-1", 4242, 10, True),
        ("build-2", 77, 2, False),
    ]
    assert workers[0]["job_ids"] == ids and workers[1]["job_ids"] == [j.id for j in dead]
