"""Event loops: uvloop against asyncio, the same sessions on each.

    python -m bench.loops [--smoke]

N concurrent ``transcribe_file`` sessions in one client process (:mod:`bench.sessions`) stream
30 s files at pace 1.0 against the server process on the sink engine (what :mod:`bench.pacing`
measures at 200 and 1,000 sessions), once on anyio's asyncio backend with the standard loop and
once with uvloop (anyio's ``use_uvloop`` backend option). The two runs of a level follow each
other, asyncio first, so both see about the same machine. Reported per run: p99 chunk
lateness (all chunks, and the steady window), the loop's own lag, client CPU (% of one core,
steady window), client CPU seconds over the whole process per audio second sent (what a
loop saves shows here even on a busy machine, where the realtime figures suffer from the
neighbours) and RSS (steady).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from bench.common import BenchServer, audio_set, rounded
from bench.fleet import scratch, sessions_fleet
from bench.report import ranged, table

FILE_S = 30.0
SESSIONS = (200, 1000)
LOOPS = ("asyncio", "uvloop")
#: what each run keeps of the fleet's result
FIELDS = (
    "sessions", "loop", "ok", "send_rate_mean", "send_rate_min", "lateness_p50_ms",
    "lateness_p99_ms", "steady_lateness_p99_ms", "lateness_max_ms", "loop_lag_p50_ms",
    "loop_lag_p99_ms", "overload_trips", "cpu_pct", "server_cpu_pct", "rss_steady_mib",
    "rss_per_session_kib", "cpu_s", "audio_s_sent",
)  # fmt: skip


def run(smoke: bool = False) -> dict[str, Any]:
    if importlib.util.find_spec("uvloop") is None:
        return {"missing": "uvloop is not installed here (pip install 'jobrunner[fast]')"}
    seconds = 1.0 if smoke else FILE_S
    levels = (4,) if smoke else SESSIONS
    results: dict[str, Any] = {"file_s": seconds, "levels": []}
    with scratch("loops") as tmp:
        root = Path(tmp)
        files = audio_set(root / "audio", [seconds] * 10, seed=3)
        for sessions in levels:
            for loop in LOOPS:
                with BenchServer("sink", max_rate=1.25, burst_s=1.5) as server:
                    level = sessions_fleet(server, files, sessions, root, loop=loop)
                row = {k: level.get(k) for k in FIELDS}
                # load-independent cost: client CPU (whole process life) per audio second sent
                row["cpu_ms_per_audio_s"] = rounded(1000 * row["cpu_s"] / row["audio_s_sent"], 3)
                results["levels"].append(row)
    return results


def render(result: dict[str, Any], runs: list[Any]) -> str:
    if "missing" in result:
        return f"_{result['missing']}_"
    rows = []
    for i, lv in enumerate(result["levels"]):
        at = ("levels", i)
        rows.append(
            [lv["sessions"], lv["loop"], f"{lv['ok']}/{lv['sessions']}",
             None if lv["send_rate_mean"] is None else f"{lv['send_rate_mean']:.4f}",
             ranged(lv["lateness_p99_ms"], runs, *at, "lateness_p99_ms"),
             lv["steady_lateness_p99_ms"],
             ranged(lv["loop_lag_p99_ms"], runs, *at, "loop_lag_p99_ms"), lv["cpu_pct"],
             ranged(lv["cpu_ms_per_audio_s"], runs, *at, "cpu_ms_per_audio_s"),
             lv["rss_steady_mib"], lv["overload_trips"]]
        )  # fmt: skip
    header = ["sessions", "loop", "ok", "send rate", "p99 lateness ms", "steady p99 ms",
              "loop lag p99 ms", "client CPU % (steady)", "client CPU ms per audio s",
              "RSS steady MiB", "overload trips"]  # fmt: skip
    return (
        f"{result['file_s']:g} s per session, sink engine, one client process; the two "
        "loops of a level run back to back. Medians, with the range of the runs in brackets.\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 sessions x 1 s")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
