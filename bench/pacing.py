"""Pacing fidelity: does every session send one second of audio per second, on time?

    python -m bench.pacing [--smoke] [--knee]

N concurrent ``transcribe_file`` sessions in one process (:mod:`bench.sessions`) stream 30 s
files at pace 1.0 against the server process with the service-like overload check on (1.25x
realtime, 1.5 s burst). Reported per level: mean send rate per session (audio seconds / wall
seconds from the first chunk to the close; target within 1 % of 1.0), the largest lead over
realtime any session had (one 100 ms chunk is the floor: a chunk is sent whole when it is
due), p50/p99/max lateness over every chunk of every session, and overload trips counted by
the server (target 0). Also the client's and the server's CPU in the steady window.

Levels: 50 sessions on the tones engine (issue 3's figure); 200 on tones and on the sink
engine; 1,000 on the sink engine, in one client process and split over two (one event loop
per core: what two ``jobrunner run`` processes on one queue would do). The tones decoder costs
the server about 2.4 ms of CPU per audio second (one BLAS thread), so 1,000 tones sessions
would need 2.4 cores for the server alone on this 2-core box; the sink engine decodes the PCM
but recognizes nothing, so what is measured at 1,000 is the client.

``--knee`` (:func:`knee`): where a second event loop starts to pay, the threshold of
``jobrunner run --processes auto`` (:data:`jobrunner.run.multi.plan.AUTO_MIN_SESSIONS`): p99
chunk lateness and loop lag against sessions, in one client process and split over two, on
the sink engine with shorter files (the lateness of a level settles within seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.common import BenchServer, audio_set
from bench.fleet import distinct_files, run_fleet, scratch, sessions_fleet

FILE_S = 30.0
#: (server engine, sessions, client processes)
LEVELS: list[tuple[str, int, int]] = [
    ("tones", 50, 1), ("tones", 200, 1), ("sink", 200, 1), ("sink", 1000, 1), ("sink", 1000, 2),
]  # fmt: skip
SMOKE_LEVELS: list[tuple[str, int, int]] = [("tones", 4, 1), ("tones", 4, 2)]
#: the knee: sessions per level, each in 1 and in 2 client processes
KNEE_SESSIONS = (100, 200, 300, 400, 600, 1000)
KNEE_FILE_S = 15.0
#: ``jobrunner run`` at 1,000 sessions: ``--processes`` values compared
RUN_PROCESSES = ("1", "auto")
RUN_SESSIONS = 1000
RUN_FILE_S = 20.0


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 1.0 if smoke else FILE_S
    levels = SMOKE_LEVELS if smoke else LEVELS
    results: dict[str, Any] = {"file_s": seconds, "levels": []}
    with scratch("pacing") as tmp:
        root = Path(tmp)
        files = audio_set(root / "audio", [seconds] * 10, seed=3)
        for engine, sessions, processes in levels:
            with BenchServer(engine, max_rate=1.25, burst_s=1.5) as server:
                level = sessions_fleet(server, files, sessions, root, processes=processes)
            level["engine"] = engine
            results["levels"].append(level)
    return results


def knee(smoke: bool = False) -> dict[str, Any]:
    """p99 lateness and loop lag vs sessions for 1 and 2 client processes (sink engine)."""
    seconds = 1.0 if smoke else KNEE_FILE_S
    sessions = (4, 8) if smoke else KNEE_SESSIONS
    results: dict[str, Any] = {"file_s": seconds, "levels": []}
    with scratch("knee") as tmp:
        root = Path(tmp)
        files = audio_set(root / "audio", [seconds] * 10, seed=3)
        for count in sessions:
            for processes in (1, 2):
                with BenchServer("sink", max_rate=1.25, burst_s=1.5) as server:
                    level = sessions_fleet(server, files, count, root, processes=processes)
                level["engine"] = "sink"
                results["levels"].append(level)
    return results


def run_rows(smoke: bool = False) -> dict[str, Any]:
    """``jobrunner run -c 1000`` over 1,000 distinct files, ``--processes 1`` and ``auto``
    (sink engine, overload check on). Lateness is per attempt (the store keeps each
    session's p99): the median session's p99 and the worst one's."""
    seconds = 1.0 if smoke else RUN_FILE_S
    count = 4 if smoke else RUN_SESSIONS
    rows: list[dict[str, Any]] = []
    with scratch("pacing-run") as tmp:
        root = Path(tmp)
        files = distinct_files(root / "files", count, seconds, seed=count)
        for processes in RUN_PROCESSES:
            with BenchServer("sink", max_rate=1.25, burst_s=1.5) as server:
                workdir = root / f"run-{processes}"
                row = run_fleet(server, root / "files", files, workdir, processes=processes)
            row["processes_flag"] = processes
            rows.append(row)
    return {"file_s": seconds, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 sessions x 1 s")
    parser.add_argument("--knee", action="store_true", help="the --processes auto threshold")
    parser.add_argument("--run", action="store_true", help="jobrunner run --processes 1/auto")
    args = parser.parse_args(argv)
    measure = knee if args.knee else run_rows if args.run else run
    print(json.dumps(measure(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
