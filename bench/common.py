"""Shared benchmark helpers: the server process, /proc sampling, statistics, generated audio.

Everything here measures from the outside, as a user would: the server and the client under
test are separate processes, CPU and memory come from ``/proc/<pid>``, and the audio is made by
the tones encoder so every transcript can be checked exactly after a run (a fast wrong answer
is not a result).
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import soundfile as sf

from jobrunner.server.tones import synthesize, turn_texts

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20

#: text material for generated turns (ASCII, so 40 symbols per second of tones)
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()


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


# --- /proc sampling -------------------------------------------------------------------------


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
    """Environment for a client process: the repository importable, one BLAS thread."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", **extra}


def wait_with_rusage(proc: subprocess.Popen[Any]) -> tuple[int, float, int]:
    """Reap ``proc``: (exit code, its total CPU seconds, its peak RSS in bytes), from wait4.

    Exact where /proc sampling is not: it counts the last instants before exit too.
    """
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


# --- generated audio -------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFile:
    path: Path
    seconds: float
    transcript: str


def _turns_for(seconds: float, rng: np.random.Generator, rate: int) -> list[str]:
    """Turns whose tones audio fits in ``seconds`` (with lead, gaps and a 0.9 s tail)."""
    turns: list[str] = []
    used = 0.3 + 0.9  # lead + tail
    while True:
        words = rng.choice(WORDS, size=int(rng.integers(2, 7)))
        text = ("" if not turns else " ") + " ".join(words) + "."
        need = (0.9 if turns else 0.0) + 0.255 + 0.025 * len(text.encode())
        if used + need > seconds:
            return turns
        turns.append(text)
        used += need


def tone_file(path: Path, seconds: float, *, seed: int = 0, rate: int = 16000) -> AudioFile:
    """A PCM_16 WAV of exactly ``seconds`` whose tones transcript is known (unique per seed)."""
    rng = np.random.default_rng(seed)
    turns = _turns_for(seconds, rng, rate)
    audio = synthesize(turns, rate) if turns else np.zeros(0, dtype=np.float32)
    frames = round(seconds * rate)
    if len(audio) < frames:
        audio = np.concatenate([audio, np.zeros(frames - len(audio), dtype=np.float32)])
    # a little dither (about -70 dBFS, far below the tones' thresholds) makes every file's
    # content different even without turns: enqueue would deduplicate equal files
    audio = audio[:frames] + rng.normal(0.0, 3e-4, frames).astype(np.float32)
    sf.write(path, audio, rate, subtype="PCM_16")
    return AudioFile(path, frames / rate, "".join(turn_texts(turns)))


def audio_set(folder: Path, durations: Sequence[float], *, seed: int = 0) -> list[AudioFile]:
    """One tone file per duration, named in list order (``f000.wav`` ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        tone_file(folder / f"f{i:03d}.wav", seconds, seed=seed * 1000 + i)
        for i, seconds in enumerate(durations)
    ]


def mixed_durations(count: int, low: float, high: float, *, seed: int = 0) -> list[float]:
    """``count`` lengths evenly spread over [low, high], shuffled (so the order is no help)."""
    if count == 1:
        return [high]
    spread = [round(low + (high - low) * i / (count - 1), 1) for i in range(count)]
    order = np.random.default_rng(seed).permutation(count)
    return [spread[i] for i in order]


def long_tone_file(path: Path, minutes: int, *, rate: int = 16000) -> AudioFile:
    """A long recording written block by block: one 60 s pattern (a few turns) repeated."""
    block = tone_file(path.with_suffix(".block.wav"), 60.0, seed=99, rate=rate)
    pattern, _ = sf.read(block.path, dtype="int16")
    block.path.unlink()
    with sf.SoundFile(path, "w", rate, 1, "PCM_16") as out:
        for _ in range(minutes):
            out.write(pattern)
    return AudioFile(path, minutes * 60.0, block.transcript * minutes)


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
    turns: int = 0

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
        }


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
) -> Batch:
    """Enqueue ``folder`` into a fresh database (not timed), then time ``jobrunner run``.

    The wall time runs from spawning the process to its exit, interpreter start included:
    what a user waits for. Afterwards every job is checked: succeeded, with the exact text.
    ``on_start(pid)`` is called right after the spawn (to attach a profiler).
    ``longest_first`` enqueues each file with its duration in ms as priority (what ``enqueue
    --priority`` does per call), so jobs are claimed longest first.
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
    argv += ["--pace", str(pace), "--base-url", server.url, "--quiet"]
    log = workdir / f"run-{concurrency}.stderr"
    with log.open("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        with Sampler([proc.pid, server.pid], interval=interval, probe=probe) as sampler:
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
        turns=turns,
    )
