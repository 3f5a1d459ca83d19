"""Pacing fidelity: does every session send one second of audio per second, on time?

    python -m bench.pacing [--smoke]

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
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.common import BenchServer, audio_set
from bench.fleet import scratch, sessions_fleet

FILE_S = 30.0
#: (server engine, sessions, client processes)
LEVELS: list[tuple[str, int, int]] = [
    ("tones", 50, 1), ("tones", 200, 1), ("sink", 200, 1), ("sink", 1000, 1), ("sink", 1000, 2),
]  # fmt: skip
SMOKE_LEVELS: list[tuple[str, int, int]] = [("tones", 4, 1), ("tones", 4, 2)]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 sessions x 1 s")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
