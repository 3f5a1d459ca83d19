"""Shared benchmark helpers: the machine, statistics, the server process, ``jobrunner run``.

Everything here measures from the outside, as a user would: the server and the client under
test are separate processes, CPU and memory come from ``/proc/<pid>`` (:mod:`bench.procstat`),
and the audio is made by the tones encoder (:mod:`bench.audio`) so every transcript can be
checked exactly after a run (a fast wrong answer is not a result).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.audio import AudioFile, audio_set, long_tone_file, mixed_durations, tone_file
from bench.procstat import Sample, Sampler, cpu_seconds, rss_bytes, wait_with_rusage

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MIB = 1 << 20

#: re-exported: the benchmark modules import everything they share from here
__all__ = [
    "MIB", "PYTHON", "ROOT", "AudioFile", "Batch", "BenchServer", "Sample", "Sampler",
    "audio_set", "child_env", "cpu_seconds", "jobrunner", "long_tone_file", "machine", "median",
    "mixed_durations", "percentile", "rounded", "rss_bytes", "run_batch", "run_checked",
    "tone_file", "wait_with_rusage", "worker_available",
]  # fmt: skip

# --- machine and statistics -----------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model, Python and OS of this box, and the date (UTC)."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "cpu": model,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def median(values: Iterable[float]) -> float:
    data = list(values)
    return float(statistics.median(data)) if data else math.nan


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return float(ordered[max(1, math.ceil(q * len(ordered))) - 1])


def rounded(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


# --- the server process ---------------------------------------------------------------------


class BenchServer:
    """``python -m bench.server`` in its own process (see :mod:`bench.server`); a context manager.

    ``max_rate`` 1.25 / ``burst_s`` 1.5 are the service-like overload check of ``jobrunner
    serve``; ``max_rate=0`` turns it off (streams faster than realtime).
    """

    def __init__(
        self,
        engine: str = "tones",
        *,
        max_rate: float = 1.25,
        burst_s: float = 1.5,
        backlog: int = 4096,
    ) -> None:
        self.engine = engine
        self.args = [
            PYTHON,
            "-m",
            "bench.server",
            "--engine",
            engine,
            "--max-rate",
            str(max_rate),
            "--burst-s",
            str(burst_s),
            "--backlog",
            str(backlog),
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.info: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> BenchServer:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench server did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        self.url = self.info["url"]
        return self

    def stats(self) -> dict[str, Any]:
        """A snapshot of the server's counters (sessions, overload trips, audio seconds...)."""
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        with self._lock:
            self.proc.stdin.write("stats\n")
            self.proc.stdin.flush()
            return dict(json.loads(self.proc.stdout.readline()))

    def open_sessions(self) -> int:
        return int(self.stats()["sessions_open"])

    def wait_idle(self, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until no session is open (handlers finished), then return the stats."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["sessions_open"] == 0 or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a client process: the repository importable, one BLAS thread, and
    bytecode caching on even where the shell turns it off (``PYTHONDONTWRITEBYTECODE``): an
    installed jobrunner has its ``.pyc`` files, so a timed process must not compile its
    modules at every start (about 60 of them for ``jobrunner run``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", **extra}


# --- running the CLI -------------------------------------------------------------------------


def jobrunner(*args: str) -> list[str]:
    """argv of the ``jobrunner`` CLI of this checkout, run by this interpreter."""
    return [PYTHON, "-m", "jobrunner", *args]


def run_checked(argv: Sequence[str], *, env: dict[str, str] | None = None) -> str:
    """Run a command to completion; its stdout, or a RuntimeError with its stderr."""
    done = subprocess.run(
        list(argv), cwd=ROOT, env=env or child_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[2:])} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def worker_available() -> bool:
    """Whether ``jobrunner run`` exists in this checkout (issue 4 may not have landed yet)."""
    from jobrunner.cli import COMMANDS

    return "run" in COMMANDS


@dataclass
class Batch:
    """One ``jobrunner run`` over a fresh SQLite database, timed and checked."""

    wall_s: float
    cpu_pct: float  # of one core, over the whole run (wait4 rusage / wall time)
    rss_max_mib: float  # peak (wait4 ru_maxrss)
    succeeded: int
    exact: int  # transcripts equal to the expected text
    files: int
    attempts: int
    mean_rates: list[float]
    max_leads: list[float]
    p99_lateness: list[float]
    drains: list[float]
    sampler: Sampler
    pid: int
    pids: list[int]  # the run's processes: ``pid`` and its worker processes
    turns: int = 0
    startup_s: float = math.nan  # spawn -> the first session's start
    sessions_s: float = math.nan  # the first session's start -> the last session's end

    def summary(self) -> dict[str, Any]:
        rates = self.mean_rates
        return {
            "wall_s": rounded(self.wall_s, 2),
            "cpu_pct": rounded(self.cpu_pct, 1),
            "rss_max_mib": rounded(self.rss_max_mib, 1),
            "succeeded": self.succeeded,
            "exact": self.exact,
            "files": self.files,
            "attempts": self.attempts,
            "send_rate_mean": rounded(statistics.fmean(rates), 5) if rates else None,
            "send_rate_min": rounded(min(rates), 5) if rates else None,
            "max_lead_ms": rounded(1000 * max(self.max_leads, default=math.nan), 1),
            "p99_lateness_ms_median": rounded(1000 * median(self.p99_lateness), 1),
            "p99_lateness_ms_max": rounded(1000 * max(self.p99_lateness, default=math.nan), 1),
            "drain_ms_median": rounded(1000 * median(self.drains), 1),
            "startup_s": rounded(self.startup_s, 2),
            "sessions_s": rounded(self.sessions_s, 2),
        }


def with_children(pid: int, pids: list[int], probe: Callable[[], Any] | None) -> Callable[[], Any]:
    """A sampler probe that also adds ``pid``'s child processes to ``pids`` as they appear."""

    def sample() -> Any:
        try:
            found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            found = []
        pids.extend(int(child) for child in found if int(child) not in pids)
        return probe() if probe is not None else None

    return sample


def run_batch(
    server: BenchServer,
    files: Sequence[AudioFile],
    folder: Path,
    workdir: Path,
    *,
    concurrency: int,
    pace: float = 1.0,
    probe: Callable[[], Any] | None = None,
    interval: float = 0.25,
    on_start: Callable[[int], Any] | None = None,
    longest_first: bool = False,
    processes: str = "1",
) -> Batch:
    """Enqueue ``folder`` into a fresh database (not timed), then time ``jobrunner run``.

    The wall time runs from spawning the process to its exit, interpreter start included:
    what a user waits for. Afterwards every job is checked: succeeded, with the exact text.
    ``on_start(pid)`` is called right after the spawn (to attach a profiler).
    ``longest_first`` enqueues each file with its duration in ms as priority (what ``enqueue
    --priority`` does per call), so jobs are claimed longest first. ``processes``: ``run
    --processes`` (the worker processes are sampled too: :attr:`Batch.pids`).
    """
    from jobrunner.config import load_settings
    from jobrunner.enqueue import enqueue_paths
    from jobrunner.store import Store

    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / f'run-{concurrency}-{time.monotonic_ns()}.db'}"
    env = child_env(CARTESIA_BASE_URL=server.url)
    if longest_first:
        settings = load_settings(profile="local", overrides={"db_url": url})
        with Store.open(url) as store:
            for f in files:
                enqueue_paths(store, settings, [f.path], priority=round(f.seconds * 1000))
    else:
        run_checked(jobrunner("--profile", "local", "--db", url, "enqueue", str(folder)), env=env)
    argv = jobrunner("--profile", "local", "--db", url, "run", "--concurrency", str(concurrency))
    argv += ["--pace", str(pace), "--base-url", server.url, "--quiet", "--processes", processes]
    log = workdir / f"run-{concurrency}.stderr"
    with log.open("w+") as err:
        started = time.monotonic()
        spawned_at = datetime.now(UTC)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        pids = [proc.pid, server.pid]
        with Sampler(
            pids, interval=interval, probe=with_children(proc.pid, pids, probe)
        ) as sampler:
            if on_start is not None:
                on_start(proc.pid)
            code, cpu_s, peak_rss = wait_with_rusage(proc)
        wall = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"jobrunner run exited {code}: {log.read_text()[-2000:].strip()}")
    expected = {str(f.path.resolve()): f.transcript for f in files}
    by_name = {f.path.name: f.transcript for f in files}  # files may be hard links elsewhere
    succeeded = exact = attempts = turns = 0
    rates: list[float] = []
    leads: list[float] = []
    lateness: list[float] = []
    drains: list[float] = []
    first: datetime | None = None
    last: datetime | None = None
    with Store.open(url) as store:
        for item in store.iter_export():
            attempts += item.job.attempts
            if item.job.state != "succeeded":
                continue
            succeeded += 1
            turns += len(item.turns)
            path = Path(item.job.path)
            want = expected.get(str(path.resolve()), by_name.get(path.name))
            exact += item.transcript == want
            for attempt in store.attempts(item.job.id):
                if attempt.outcome != "succeeded":
                    continue
                if attempt.send_rate_mean is not None:
                    rates.append(attempt.send_rate_mean)
                if attempt.send_max_lead_s is not None:
                    leads.append(attempt.send_max_lead_s)
                if attempt.send_p99_lateness_s is not None:
                    lateness.append(attempt.send_p99_lateness_s)
                if attempt.drain_s is not None:
                    drains.append(attempt.drain_s)
                if attempt.started_at is not None:
                    first = min(first or attempt.started_at, attempt.started_at)
                if attempt.ended_at is not None:
                    last = max(last or attempt.ended_at, attempt.ended_at)
    return Batch(
        wall_s=wall,
        cpu_pct=100.0 * cpu_s / wall,
        rss_max_mib=peak_rss / MIB,
        succeeded=succeeded,
        exact=exact,
        files=len(files),
        attempts=attempts,
        mean_rates=rates,
        max_leads=leads,
        p99_lateness=lateness,
        drains=drains,
        sampler=sampler,
        pid=proc.pid,
        pids=[pid for pid in pids if pid != server.pid],
        turns=turns,
        startup_s=(first - spawned_at).total_seconds() if first else math.nan,
        sessions_s=(last - first).total_seconds() if first and last else math.nan,
    )
