"""How many worker processes a run uses, and how its sessions are shared among them."""

from __future__ import annotations

import os

from jobrunner.errors import ConfigError

#: ``auto`` uses more than one process from this many sessions (the knee measured in
#: BENCHMARKS.md, "Processes": below it one loop keeps p99 chunk lateness low)
AUTO_MIN_SESSIONS = 300


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parse_processes(value: str) -> int | None:
    """``auto`` -> None, else a count >= 1."""
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"processes must be 'auto' or a count >= 1, got {value!r}")
    return count


def processes_for(value: str, concurrency: int, available: int | None = None) -> int:
    """Worker processes for ``concurrency`` sessions: ``value`` ("auto" or N), never more than
    sessions. ``auto``: one below :data:`AUTO_MIN_SESSIONS`, else one per core."""
    count = parse_processes(value)
    if count is None:
        if concurrency < AUTO_MIN_SESSIONS:
            return 1
        count = cores() if available is None else available
    return max(1, min(count, concurrency))


def split(total: int, parts: int) -> list[int]:
    """``total`` sessions over ``parts`` processes, as evenly as possible (larger shares first)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


__all__ = ["AUTO_MIN_SESSIONS", "cores", "parse_processes", "processes_for", "split"]
