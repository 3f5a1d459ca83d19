"""What a process costs, read from outside: CPU and RSS from ``/proc/<pid>``, and ``wait4``.

:class:`Sampler` polls a few processes in a thread; :func:`wait_with_rusage` reaps a child with
its exact totals (CPU seconds and peak RSS, the last instants before exit included).
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic() (CLOCK_MONOTONIC: the same clock in every process)
    cpu_s: dict[int, float]
    rss: dict[int, int]
    probe: Any = None


@dataclass
class Sampler:
    """Samples CPU and RSS of some processes every ``interval`` seconds in a thread.

    ``probe`` (optional) is called at each sample too, e.g. to read how many sessions the
    server has open, so a steady window can be found afterwards.
    """

    pids: Sequence[int]
    interval: float = 0.25
    probe: Callable[[], Any] | None = None
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def take(self) -> Sample | None:
        cpu: dict[int, float] = {}
        rss: dict[int, int] = {}
        for pid in self.pids:
            try:
                cpu[pid], rss[pid] = cpu_seconds(pid), rss_bytes(pid)
            except (OSError, IndexError, ValueError):
                continue  # the process has exited
        if not cpu:
            return None
        sample = Sample(time.monotonic(), cpu, rss, self.probe() if self.probe else None)
        self.samples.append(sample)
        return sample

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.take()
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def window(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]

    def cpu_percent(self, pid: int, start: float, end: float) -> float:
        """Mean CPU of ``pid`` between the first and last sample inside [start, end], in % of
        one core (200 % = both cores of a 2-core box)."""
        inside = [s for s in self.window(start, end) if pid in s.cpu_s]
        if len(inside) < 2 or inside[-1].at <= inside[0].at:
            return math.nan
        used = inside[-1].cpu_s[pid] - inside[0].cpu_s[pid]
        return 100.0 * used / (inside[-1].at - inside[0].at)

    def rss_values(self, pid: int, start: float = -math.inf, end: float = math.inf) -> list[int]:
        return [s.rss[pid] for s in self.window(start, end) if pid in s.rss]


def wait_with_rusage(proc: subprocess.Popen[Any]) -> tuple[int, float, int]:
    """Reap ``proc``: (exit code, its total CPU seconds, its peak RSS in bytes), from wait4.

    Exact where /proc sampling is not: it counts the last instants before exit too.
    """
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
