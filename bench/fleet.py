"""N concurrent sessions in one client process against the server process: pacing and cost.

Shared by :mod:`bench.pacing` (how well audio is paced) and :mod:`bench.resources` (what it
costs). The client is ``python -m bench.sessions`` (``transcribe_file`` x N in one event loop)
or ``jobrunner run`` over N files at concurrency N; both are sampled from ``/proc`` together
with the server. The *steady window* is the stretch when all N sessions stream at once:
for ``bench.sessions`` from its own phase marks, for ``jobrunner run`` from the server's count
of open sessions (>= 98 % of N). CPU and RSS are taken inside it; RSS per session is the
steady RSS minus the RSS just before the first session opened, divided by N.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    MIB,
    PYTHON,
    ROOT,
    AudioFile,
    BenchServer,
    Sampler,
    audio_set,
    child_env,
    median,
    rounded,
    run_batch,
    wait_with_rusage,
)

STEADY_SHARE = 0.98


def _steady_rss(sampler: Sampler, pid: int, start: float, end: float) -> float:
    values = sampler.rss_values(pid, start, end)
    return median(values) if values else math.nan


def _idle_rss(sampler: Sampler, pid: int, before: float) -> float:
    """RSS of the last sample before ``before`` (imports done, no session yet)."""
    values = [s.rss[pid] for s in sampler.samples if s.at < before and pid in s.rss]
    return float(values[-1]) if values else math.nan


def _merged_lateness(raws: list[Path], start: float, end: float) -> dict[str, Any]:
    """Percentiles over every chunk of every client process (and of the steady window)."""
    late = np.concatenate([np.load(r)["lateness"] for r in raws])
    sent = np.concatenate([np.load(r)["sent_at"] for r in raws])
    steady = late[(sent >= start) & (sent <= end)]  # empty with NaN bounds

    def pct(values: Any, q: float) -> float:
        return float(np.percentile(values, q, method="inverted_cdf")) if len(values) else math.nan

    return {
        "chunks": len(late),
        "lateness_p50_ms": rounded(1000 * pct(late, 50), 2),
        "lateness_p99_ms": rounded(1000 * pct(late, 99), 2),
        "lateness_max_ms": rounded(1000 * float(late.max(initial=0.0)), 1),
        "steady_lateness_p50_ms": rounded(1000 * pct(steady, 50), 2),
        "steady_lateness_p99_ms": rounded(1000 * pct(steady, 99), 2),
    }


def sessions_fleet(
    server: BenchServer,
    files: list[AudioFile],
    sessions: int,
    workdir: Path,
    *,
    pace: float = 1.0,
    processes: int = 1,
    loop: str = "auto",
) -> dict[str, Any]:
    """``sessions`` concurrent ``transcribe_file`` calls in ``processes`` client processes
    (split evenly, all started together) on the ``loop`` event loop, measured."""
    expect = workdir / "expect.json"
    expect.write_text(json.dumps([f.transcript for f in files]))
    procs: list[subprocess.Popen[bytes]] = []
    outs: list[Path] = []
    raws: list[Path] = []
    for i in range(processes):
        share = sessions // processes + (i < sessions % processes)
        outs.append(workdir / f"sessions-{sessions}-{i}.json")
        raws.append(workdir / f"sessions-{sessions}-{i}.npz")
        argv = [PYTHON, "-m", "bench.sessions", "--url", server.url, "--sessions", str(share)]
        argv += ["--pace", str(pace), "--expect", str(expect), "--raw", str(raws[-1])]
        argv += ["--loop", loop]
        with outs[-1].open("w") as out:
            procs.append(
                subprocess.Popen(
                    [*argv, *[str(f.path) for f in files]], cwd=ROOT, env=child_env(), stdout=out
                )
            )
    pids = [p.pid for p in procs]
    with Sampler([*pids, server.pid], interval=0.25) as sampler:
        usage = [wait_with_rusage(p) for p in procs]
    if any(code != 0 for code, _, _ in usage):
        raise RuntimeError(f"bench.sessions exited {[code for code, _, _ in usage]}")
    results = [json.loads(o.read_text()) for o in outs]
    stats = server.wait_idle()
    marks = [r["all_streaming"] for r in results]
    closes = [r["first_closed"] for r in results]
    start: float = max(marks) if None not in marks else math.nan
    end: float = min(closes) if None not in closes else math.nan
    steady = end - start > 1.0  # False with NaN
    per = [s for r in results for s in r["per_session"]]
    rates = [s["mean_rate"] for s in per]
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    rss_steady = sum(_steady_rss(sampler, pid, start, end) for pid in pids) if steady else math.nan
    rss_idle = sum(
        _idle_rss(sampler, pid, r["started"]) for pid, r in zip(pids, results, strict=True)
    )
    return {
        "client": "transcribe_file x N" + (f" in {processes} processes" if processes > 1 else ""),
        "loop": loop,
        "sessions": sessions,
        "processes": processes,
        "ok": sum(r["ok"] for r in results),
        "failures": {k: v for r in results for k, v in r["failures"].items()},
        "wrong_transcripts": sum(r["wrong_transcripts"] for r in results)
        if server.engine == "tones"
        else None,
        "send_rate_mean": rounded(statistics.fmean(rates), 5) if rates else None,
        "send_rate_min": rounded(min(rates), 5) if rates else None,
        "send_rate_max": rounded(max(rates), 5) if rates else None,
        "max_lead_ms": rounded(1000 * max((s["max_lead_s"] for s in per), default=math.nan), 1),
        **_merged_lateness(raws, start, end),
        "loop_lag_p50_ms": rounded(1000 * max(r["loop_lag_p50_s"] for r in results), 2),
        "loop_lag_p99_ms": rounded(1000 * max(r["loop_lag_p99_s"] for r in results), 2),
        "connect_s_max": rounded(max((s["connect_s"] for s in per), default=math.nan), 2),
        "overload_trips": stats["overload_trips"],
        "server_sessions": stats["sessions_total"],
        "steady_s": rounded(end - start, 1) if steady else None,
        "cpu_pct": rounded(sum(sampler.cpu_percent(pid, start, end) for pid in pids), 1)
        if steady
        else None,
        "cpu_pct_whole_run": rounded(100 * sum(cpu for _, cpu, _ in usage) / wall, 1),
        "cpu_s": rounded(sum(cpu for _, cpu, _ in usage), 2),
        "audio_s_sent": rounded(sum(s["audio_s"] for s in per), 1),
        "server_cpu_pct": rounded(sampler.cpu_percent(server.pid, start, end), 1)
        if steady
        else None,
        "rss_idle_mib": rounded(rss_idle / MIB, 1),
        "rss_steady_mib": rounded(rss_steady / MIB, 1),
        "rss_peak_mib": rounded(sum(peak for _, _, peak in usage) / MIB, 1),
        "rss_per_session_kib": rounded((rss_steady - rss_idle) / sessions / 1024, 1),
    }


def run_fleet(
    server: BenchServer,
    folder: Path,
    files: list[AudioFile],
    workdir: Path,
    *,
    pace: float = 1.0,
    processes: str = "1",
) -> dict[str, Any]:
    """``jobrunner run --processes P`` over ``files`` at concurrency ``len(files)``, measured;
    CPU and RSS are summed over the parent and its worker processes."""
    n = len(files)
    batch = run_batch(
        server,
        files,
        folder,
        workdir,
        concurrency=n,
        pace=pace,
        probe=server.open_sessions,
        processes=processes,
    )
    stats = server.wait_idle()
    sampler, pids = batch.sampler, batch.pids
    steady = [s for s in sampler.samples if (s.probe or 0) >= STEADY_SHARE * n]
    result = batch.summary()
    client = "jobrunner run" + (f" --processes {processes}" if processes != "1" else "")
    result.update(
        client=client,
        sessions=n,
        processes=len(pids) - 1 if len(pids) > 1 else 1,
        overload_trips=stats["overload_trips"],
    )
    if len(steady) >= 2:
        start, end = steady[0].at, steady[-1].at
        first = next(s.at for s in sampler.samples if s.probe)
        rss_steady = sum(_steady_rss(sampler, pid, start, end) for pid in pids)
        rss_idle = sum(_idle_rss(sampler, pid, first) for pid in pids if pid == batch.pid)
        rss_idle += sum(
            _idle_rss(sampler, pid, first) for pid in pids[1:] if _seen(sampler, pid, first)
        )
        result.update(
            steady_s=rounded(end - start, 1),
            cpu_pct=rounded(sum(sampler.cpu_percent(pid, start, end) for pid in pids), 1),
            rss_idle_mib=rounded(rss_idle / MIB, 1),
            rss_steady_mib=rounded(rss_steady / MIB, 1),
            rss_per_session_kib=rounded((rss_steady - rss_idle) / n / 1024, 1),
        )
    else:
        result.update(steady_s=None, cpu_pct=None, rss_per_session_kib=None)
    return result


def _seen(sampler: Sampler, pid: int, before: float) -> bool:
    return any(s.at < before and pid in s.rss for s in sampler.samples)


def distinct_files(folder: Path, count: int, seconds: float, *, seed: int) -> list[AudioFile]:
    """``count`` different files of the same length (enqueue deduplicates equal content)."""
    return audio_set(folder, [seconds] * count, seed=seed)


def scratch(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-")
