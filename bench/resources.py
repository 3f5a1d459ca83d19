"""Resource cost: CPU and memory of the client at 50, 200 and 1,000 live sessions, and of one
3-hour recording.

    python -m bench.resources [--smoke]

Concurrency levels: ``jobrunner run`` over N different 20 s files at concurrency N (the
product: worker, store, leases and all), and the same N sessions as bare ``transcribe_file``
calls in one process (the session code alone), against the server process with the sink
engine (see :mod:`bench.pacing` for why). CPU % is of one core (the box has two, so 60 % of the
machine is 120 %), averaged over the steady window when all N sessions stream; RSS per
session is (steady RSS - RSS before the first session) / N.

Long file: one 3-hour 16 kHz recording (345 MB of PCM) through ``jobrunner run`` — through
``transcribe_file`` when the worker is missing — on the tones engine, at pace 60 with the
server's overload check off (3 hours at pace 1 would take 3 hours; the client's memory does
not depend on the pace, only on how far into the file it is). RSS is sampled every 0.5 s;
reported at 10 %, 50 % and 100 % of the file and as a least-squares slope over the last 90 %,
in MiB per hour of audio. The transcript must come back exact.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    MIB,
    PYTHON,
    ROOT,
    BenchServer,
    Sampler,
    child_env,
    long_tone_file,
    rounded,
    run_batch,
    wait_with_rusage,
    worker_available,
)
from bench.fleet import distinct_files, run_fleet, scratch, sessions_fleet

LEVELS = (50, 200, 1000)
FILE_S = 20.0
LONG_MINUTES = 180
LONG_PACE = 60.0


def concurrency_levels(root: Path, levels: tuple[int, ...], seconds: float) -> list[Any]:
    out: list[Any] = []
    for n in levels:
        folder = root / f"files-{n}"
        files = distinct_files(folder, n, seconds, seed=n)
        with BenchServer("sink") as server:
            out.append(sessions_fleet(server, files[:10], n, root))
            if worker_available():
                out.append(run_fleet(server, folder, files, root / f"run-{n}"))
    return out


def _slope_mib_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (audio hours, RSS MiB)."""
    if len(points) < 3:
        return float("nan")
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def long_file(root: Path, minutes: int, pace: float) -> dict[str, Any]:
    (root / "long").mkdir(parents=True, exist_ok=True)
    audio = long_tone_file(root / "long" / "long.wav", minutes)
    audio_s = audio.seconds
    with BenchServer("tones", max_rate=0) as server:

        def position() -> float:
            return float(server.stats()["audio_seconds"])

        if worker_available():
            batch = run_batch(
                server, [audio], audio.path.parent, root / "long-run", concurrency=1,
                pace=pace, interval=0.5, probe=position,
            )  # fmt: skip
            via, pid, sampler = "jobrunner run", batch.pid, batch.sampler
            ok = batch.exact == 1
            turns = batch.turns
            wall = batch.wall_s
        else:
            expect = root / "long-expect.json"
            expect.write_text(json.dumps([audio.transcript]))
            argv = [PYTHON, "-m", "bench.sessions", "--url", server.url, "--sessions", "1"]
            argv += ["--pace", str(pace), "--expect", str(expect), str(audio.path)]
            out_path = root / "long-out.json"
            with out_path.open("w") as out:
                started = time.monotonic()
                proc = subprocess.Popen(argv, cwd=ROOT, env=child_env(), stdout=out)
                with Sampler([proc.pid], interval=0.5, probe=position) as sampler:
                    wait_with_rusage(proc)
                wall = time.monotonic() - started
            result = json.loads(out_path.read_text())
            via, pid = "transcribe_file", proc.pid
            ok = result["ok"] == 1 and result["wrong_transcripts"] == 0
            turns = 0  # not reported by bench.sessions
    # (audio hours the server has received, client RSS) once streaming has begun
    points = [
        (s.probe / 3600.0, s.rss[pid] / MIB) for s in sampler.samples if pid in s.rss and s.probe
    ]
    hours = audio_s / 3600.0

    def rss_at(share: float) -> float:
        target = share * hours
        return min(points, key=lambda p: abs(p[0] - target))[1]

    tail = [p for p in points if p[0] >= 0.1 * hours]
    slope = _slope_mib_per_hour(tail)
    turns_per_h = turns / hours if hours else 0.0
    return {
        "via": via,
        "audio_h": rounded(hours, 2),
        "pace": pace,
        "wall_s": rounded(wall, 1),
        "exact": ok,
        "rss_10pct_mib": rounded(rss_at(0.1), 1),
        "rss_50pct_mib": rounded(rss_at(0.5), 1),
        "rss_100pct_mib": rounded(rss_at(1.0), 1),
        "rss_max_mib": rounded(max(p[1] for p in points), 1),
        "slope_mib_per_audio_h": rounded(slope, 2),
        "turns": turns,
        # the turns (and the transcript) are the result and are kept until the job commits:
        # what the slope costs per turn says whether anything else grows
        "slope_bytes_per_turn": rounded(slope * MIB / turns_per_h, 0) if turns_per_h else None,
        "samples": len(points),
    }


def run(smoke: bool = False) -> dict[str, Any]:
    with scratch("resources") as tmp:
        root = Path(tmp)
        levels = (4,) if smoke else LEVELS
        seconds = 1.0 if smoke else FILE_S
        return {
            "file_s": seconds,
            "levels": concurrency_levels(root, levels, seconds),
            "long_file": long_file(
                root, 1 if smoke else LONG_MINUTES, 60.0 if smoke else LONG_PACE
            ),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 sessions, a 1-minute file")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
