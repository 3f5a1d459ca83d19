"""Issue 4's closing figures for ``jobrunner run``.

    python -m bench.run [--smoke]

1. Makespan: 40 different files x 5 s through ``jobrunner run -c 8`` (a subprocess on a fresh
   SQLite database each round) against ``bench.server`` (tones engine, the service-like
   overload check on, pace 1), versus the ideal ``total audio / 8 + one drain`` (the drain is
   the median our-close-to-server-close the run's attempts recorded). Median of 3 rounds;
   every transcript must come back exact.
2. Cost: CPU (% of one core, over the steady window when all sessions stream) and RSS of the
   ``run`` process with 200 concurrent sessions of 20 s files, against the sink engine (which
   decodes the audio but recognizes nothing, so the 2-core box's CPU is left to the client).

The helpers (server process, /proc sampling, tone files) are ``bench.common``/``bench.fleet``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.common import BenchServer, audio_set, median, rounded, run_batch
from bench.fleet import distinct_files, run_fleet, scratch


def makespan(
    root: Path, count: int, seconds: float, concurrency: int, rounds: int
) -> dict[str, Any]:
    files = audio_set(root / "makespan", [seconds] * count, seed=4)
    with BenchServer("tones", max_rate=1.25, burst_s=1.5) as server:
        batches = [
            run_batch(server, files, files[0].path.parent, root / f"r{i}", concurrency=concurrency)
            for i in range(rounds)
        ]
        trips = server.wait_idle()["overload_trips"]
    drain = median(d for b in batches for d in b.drains)
    total = sum(f.seconds for f in files)
    ideal = max(total / concurrency, max(f.seconds for f in files)) + drain
    walls = [b.wall_s for b in batches]
    wall = median(walls)
    return {
        "files": count,
        "file_s": seconds,
        "concurrency": concurrency,
        "rounds": rounds,
        "makespan_s": rounded(wall, 2),
        "makespan_s_all": [rounded(w, 2) for w in walls],
        "ideal_s": rounded(ideal, 2),
        "drain_ms": rounded(1000 * drain, 1),
        "efficiency": rounded(ideal / wall, 4),
        "overhead_s": rounded(wall - ideal, 2),
        "exact": min(b.exact for b in batches),
        "attempts": max(b.attempts for b in batches),
        "cpu_pct": rounded(median(b.cpu_pct for b in batches), 1),
        "overload_trips": trips,
    }


def sessions(root: Path, count: int, seconds: float) -> dict[str, Any]:
    files = distinct_files(root / "fleet", count, seconds, seed=200)
    with BenchServer("sink") as server:
        return run_fleet(server, files[0].path.parent, files, root / "fleet-run")


def run(smoke: bool = False) -> dict[str, Any]:
    with scratch("run") as tmp:
        root = Path(tmp)
        if smoke:
            return {
                "makespan": makespan(root, 4, 1.0, 2, 1),
                "sessions": sessions(root, 10, 2.0),
            }
        return {"makespan": makespan(root, 40, 5.0, 8, 3), "sessions": sessions(root, 200, 20.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 files of 1 s; 10 sessions")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
