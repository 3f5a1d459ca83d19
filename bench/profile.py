"""Sampling profiles of a running client process with py-spy, summarised per function.

``py-spy record --gil`` keeps only the samples of the thread holding the GIL, so the shares
below are shares of the Python CPU time of the process, not of wall time (idle threads
waiting on a queue are not counted). ``self`` is time in the function's own code, ``total``
includes what it calls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


def available() -> bool:
    return Path(PY_SPY).is_file()


def _name(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``."""
    func, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{func} ({module})" if module else func


def summarize(raw: Path, top: int = 12) -> dict[str, Any]:
    """Top functions by self and by total share of the samples in a py-spy raw file."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    if not samples:
        return {"samples": 0, "self": [], "total": []}

    def share(counter: Counter[str], below: float = 101.0) -> list[list[Any]]:
        ranked = [(name, round(100 * n / samples, 1)) for name, n in counter.most_common()]
        return [[name, pct] for name, pct in ranked if pct < below][:top]

    # in "total", the frames every sample passes through (main, run, the event loop) say
    # nothing: only functions under 80 % are listed
    return {"samples": samples, "self": share(own), "total": share(total, below=80.0)}


class Recording:
    """``py-spy record`` attached to ``pid`` for ``seconds`` (started in a thread)."""

    def __init__(self, out: Path, seconds: float, delay_s: float = 0.0) -> None:
        self.out = out
        self.seconds = seconds
        self.delay_s = delay_s
        self._thread: threading.Thread | None = None
        self.error = ""

    def attach(self, pid: int) -> None:
        def record() -> None:
            if self.delay_s:
                threading.Event().wait(self.delay_s)
            argv = [PY_SPY, "record", "--pid", str(pid), "--gil", "--rate", "100"]
            argv += ["--duration", str(int(self.seconds)), "--format", "raw"]
            argv += ["--output", str(self.out), "--nonblocking"]
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                self.error = done.stderr.strip()[-500:]

        self._thread = threading.Thread(target=record, name="py-spy", daemon=True)
        self._thread.start()

    def result(self, top: int = 12) -> dict[str, Any]:
        if self._thread is not None:
            self._thread.join()
        if not self.out.is_file():
            return {"error": self.error or "no profile written"}
        return summarize(self.out, top)
