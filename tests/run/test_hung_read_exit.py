"""``jobrunner run`` ends, with its summary and exit code, even when a file read still hangs in
a thread (a hard-mounted share that stopped answering): the run's work is all recorded, and a
thread that cannot be cancelled must not keep the process alive."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Serve, fast_settings
from workerkit import enqueue, jobrunner, make_files, profile_file

from jobrunner.store import Store


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[list[Path]]:
    """FIFOs standing in for audio files; afterwards a writer opens and closes each so that any
    thread still blocked on one (in this process or a child) is released."""
    made: list[Path] = []
    yield made
    for path in made:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_a_run_whose_read_hangs_exits_with_its_summary(
    serve: Serve, tmp_path: Path, db_url: str, store: Store, fifo: list[Path]
) -> None:
    [path] = make_files(tmp_path / "audio", 1)
    server = serve()
    timeouts = {"connect_tries": 1, "open_timeout_s": 0.5, "stall_timeout_s": 0.5}
    settings = fast_settings(server, db_url, max_attempts=1, drain_timeout_s=0.5, **timeouts)
    enqueue(store, settings, tmp_path / "audio")
    os.unlink(path)
    os.mkfifo(path)  # opening it for reading blocks until a writer comes: none will
    fifo.append(Path(path))
    profile = profile_file(tmp_path, server, max_attempts=1, drain_timeout_s=0.5, **timeouts)
    proc = jobrunner(db_url, profile, "run", "--no-progress", "--max-attempts", "1")
    try:
        out, err = proc.communicate(timeout=90)  # a guard: without the fix it never returns
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("jobrunner run did not exit while a read hung") from None
    assert proc.returncode == 1, err
    assert "0 succeeded, 1 failed" in err
    assert "stuck in file reads" in err
    [job] = store.jobs()
    assert job.state == "failed" and job.reason is not None and "stalled" in job.reason
