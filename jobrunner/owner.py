"""Lease owner ids: which process holds a lease, and whether that process is gone for sure.

An owner id is ``host:pid:token``, and on Linux ``host:pid:token:machine.start``:

* ``token``: 8 hex digits, fresh per process, so two processes never share an id;
* ``machine``: names this kernel boot *and* PID namespace (a hash of
  ``/proc/sys/kernel/random/boot_id`` and ``/proc/self/ns/pid``): where a pid means this
  process and no other;
* ``start``: the process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22),
  which tells a reused pid from the process that held the lease.

:func:`is_gone` answers True only when the holder cannot be alive: same machine token, and no
process with that pid, a zombie, or one that started at another time. Everything else is
never judged gone, so its leases are left to expire: another host, another boot (after a
reboot, or another machine with the same name), another PID namespace (a container), an id
written by an older jobrunner or on another platform, a process that ``/proc`` does not show.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")

_OWNER = re.compile(
    r"(?P<host>.*?):(?P<pid>\d+):(?P<token>[^:]*)(?::(?P<machine>[0-9a-f]{12})\.(?P<start>\d+))?"
)


@dataclass(frozen=True)
class OwnerId:
    """A parsed owner id; ``machine`` and ``start`` are ``None`` where they are not known."""

    host: str
    pid: int
    token: str
    machine: str | None = None
    start: int | None = None

    def __str__(self) -> str:
        base = f"{self.host}:{self.pid}:{self.token}"
        if self.machine is None or self.start is None:
            return base
        return f"{base}:{self.machine}.{self.start}"


def parse_owner(owner: str) -> OwnerId | None:
    """The parts of an owner id; ``None`` for ids in another form (tests, other tools)."""
    m = _OWNER.fullmatch(owner)
    if m is None:
        return None
    start = m["start"]
    return OwnerId(
        m["host"], int(m["pid"]), m["token"], m["machine"], None if start is None else int(start)
    )


@functools.cache
def this_machine() -> str | None:
    """This kernel boot and PID namespace as 12 hex digits; ``None`` off Linux or when
    ``/proc`` does not say (then no lease is ever judged gone)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:12]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in ticks) from ``/proc/<pid>/stat``; ``None`` if unreadable. The
    command name (field 2) may hold spaces and parentheses: fields are counted after its ``)``."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 1 :].split()
    try:  # fields[0] is field 3 (state), so field 22 (starttime) is fields[19]
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def make_owner() -> str:
    """A lease owner id for this process (fresh token each call)."""
    pid = os.getpid()
    machine, stat = this_machine(), _stat(pid)
    owner = OwnerId(
        socket.gethostname(),
        pid,
        uuid.uuid4().hex[:8],
        machine,
        None if machine is None or stat is None else stat[1],
    )
    return str(owner)


def is_gone(owner: str) -> bool:
    """True only when the process that holds ``owner``'s leases cannot be alive (see the
    module docstring); never raises."""
    held = parse_owner(owner)
    if held is None or held.machine is None or held.start is None:
        return False
    if held.machine != this_machine():
        return False
    try:
        os.kill(held.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user: its start time decides
    except OSError:
        return False
    stat = _stat(held.pid)
    if stat is None:  # hidden from us, or it ended just now: the lease will expire
        return False
    state, start = stat
    return start != held.start or state in ("Z", "X")


__all__ = ["OwnerId", "is_gone", "make_owner", "parse_owner", "this_machine"]
