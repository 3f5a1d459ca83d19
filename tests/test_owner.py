"""Lease owner ids (jobrunner/owner.py): a process that is gone is told from one that may be
alive, with real processes; anything that cannot be judged is never called gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest

from jobrunner.owner import OwnerId, is_gone, make_owner, parse_owner, this_machine

linux_only = pytest.mark.skipif(this_machine() is None, reason="needs Linux /proc")

PRINT_OWNER = (
    "import sys; from jobrunner.owner import make_owner; print(make_owner(), flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture
def child() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A live Python process and the owner id it made for itself."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRINT_OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    owner = proc.stdout.readline().strip()
    yield proc, owner
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_an_owner_id_reads_back_as_host_pid_and_this_process() -> None:
    owner = parse_owner(make_owner())
    assert owner is not None
    assert (owner.host, owner.pid) == (socket.gethostname(), os.getpid())
    assert owner.machine == this_machine()
    assert str(owner) == str(parse_owner(str(owner)))
    assert make_owner() != make_owner()  # a fresh token each time


def test_older_and_foreign_owner_ids_parse_as_far_as_they_go() -> None:
    assert parse_owner("box:42:1a2b3c4d") == OwnerId("box", 42, "1a2b3c4d")
    assert parse_owner("box:42:12345678:012345678901.99") == OwnerId(
        "box", 42, "12345678", "012345678901", 99
    )
    assert parse_owner("a-worker") is None and parse_owner("box:x:1") is None


@linux_only
def test_a_live_process_is_not_gone_and_a_killed_one_is(
    child: tuple[subprocess.Popen[str], str],
) -> None:
    proc, owner = child
    assert not is_gone(owner)
    assert not is_gone(make_owner())  # this process
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert is_gone(owner)


@linux_only
def test_a_killed_process_not_yet_waited_for_is_gone(
    child: tuple[subprocess.Popen[str], str],
) -> None:
    proc, owner = child
    os.kill(proc.pid, signal.SIGKILL)
    # a zombie until its parent waits: /proc still shows it, with state Z
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    assert is_gone(owner)


@linux_only
def test_a_reused_pid_is_told_apart_by_its_start_time() -> None:
    me = parse_owner(make_owner())
    assert me is not None and me.start is not None
    assert is_gone(str(replace(me, start=me.start + 1)))  # our pid, another process's start


@linux_only
def test_a_process_on_another_machine_or_boot_or_from_an_older_version_is_never_gone(
    child: tuple[subprocess.Popen[str], str],
) -> None:
    proc, owner = child
    parsed = parse_owner(owner)
    assert parsed is not None
    proc.kill()
    proc.wait()
    assert is_gone(owner)
    assert not is_gone(str(replace(parsed, machine="0" * 12)))  # another boot or namespace
    assert not is_gone(str(replace(parsed, machine=None, start=None)))  # no machine token
    assert not is_gone("host:1:abcd")
