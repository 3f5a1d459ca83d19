"""Scaling curve: makespan and CPU of ``jobrunner run`` as concurrency doubles from 1 to 1,000.

    python -m bench.scaling [--smoke]

At concurrency c, 2c different 5 s files go through ``jobrunner run -c c`` (a fresh SQLite
database each time) against the sink server with the service-like overload check on. The
ideal is the same at every level (2 rounds of 5 s + one drain), so the curve shows directly
what concurrency costs: efficiency = ideal / makespan, CPU % of one core over the whole run
and in the steady window, peak RSS, the send rate and the worst per-session p99 lateness.
The knee is the first level whose makespan is more than 5 % above the previous level's (the
fixed cost of starting a run, about a second, is in every level alike).

At the largest level the run process is profiled with ``py-spy record --gil`` for the middle
of the run: the functions that hold the GIL the most are named in the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import profile
from bench.common import BenchServer, audio_set, median, rounded, run_batch, worker_available
from bench.fleet import STEADY_SHARE, scratch

LEVELS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
FILE_S = 5.0
FILES_PER_SLOT = 2
KNEE = 1.05


def run(smoke: bool = False) -> dict[str, Any]:
    if not worker_available():
        return {"missing": "jobrunner run is not in this checkout yet"}
    levels = (1, 2) if smoke else LEVELS
    seconds = 0.5 if smoke else FILE_S
    out: dict[str, Any] = {"file_s": seconds, "files_per_slot": FILES_PER_SLOT, "levels": []}
    with scratch("scaling") as tmp, BenchServer("sink") as server:
        root = Path(tmp)
        pool = audio_set(root / "pool", [seconds] * (FILES_PER_SLOT * max(levels)), seed=5)
        drain = 0.0
        for c in levels:
            folder = root / f"c{c}"
            folder.mkdir()
            files = pool[: FILES_PER_SLOT * c]
            for f in files:
                os.link(f.path, folder / f.path.name)
            recording = None
            if c == levels[-1] and profile.available() and not smoke:
                recording = profile.Recording(root / "profile.txt", seconds=6, delay_s=3)
            batch = run_batch(
                server, files, folder, root / f"run{c}", concurrency=c,
                probe=server.open_sessions,
                on_start=recording.attach if recording else None,
            )  # fmt: skip
            server.wait_idle()
            drain = median(batch.drains) if batch.drains else drain
            ideal = FILES_PER_SLOT * seconds + drain
            row = batch.summary()
            steady = [s for s in batch.sampler.samples if (s.probe or 0) >= STEADY_SHARE * c]
            window = (steady[0].at, steady[-1].at) if len(steady) >= 2 else None
            steady_cpu = batch.sampler.cpu_percent(batch.pid, *window) if window else None
            server_cpu = batch.sampler.cpu_percent(server.pid, *window) if window else None
            row.update(
                concurrency=c,
                ideal_s=rounded(ideal, 2),
                efficiency=rounded(ideal / batch.wall_s, 4),
                cpu_pct_steady=rounded(steady_cpu, 1) if steady_cpu is not None else None,
                server_cpu_pct_steady=rounded(server_cpu, 1) if server_cpu is not None else None,
            )
            out["levels"].append(row)
            if recording is not None:
                out["profile"] = {"concurrency": c, **recording.result()}
        out["overload_trips"] = server.stats()["overload_trips"]
    levels_out = out["levels"]
    out["knee"] = next(
        (b["concurrency"] for a, b in zip(levels_out, levels_out[1:], strict=False)
         if b["wall_s"] > KNEE * a["wall_s"]),
        None,
    )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="levels 1 and 2, 0.5 s files")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
