"""Makespan efficiency: how close a batch gets to the physical limit of a realtime endpoint.

    python -m bench.makespan [--smoke]

40 files of 5-30 s (evenly spread, shuffled: 700 s of audio) through ``jobrunner run`` at
concurrency 1, 8 and 32, each into a fresh SQLite database, against the tones server with the
service-like overload check on, and through :mod:`bench.baseline` (Cartesia's example: one
file after another, ``sleep(0.1)`` after each 100 ms chunk). The baseline runs at the same
time as jobrunner at concurrency 1 (side by side, so both see the same machine).

ideal = max(total audio / concurrency, longest file) + one drain, where the drain (our close
to the server's close) is the median the baseline measured. efficiency = ideal / actual (1.0
is the limit). Actual times are the wall time of the client process, interpreter start
included. Every transcript is checked against the text the audio encodes.

Which job is claimed next matters as much as pacing: in id order a 29 s file enqueued last
starts when the first short ones end and then runs alone (0.73 of ideal at concurrency 32).
The queue now claims the longest work first within a priority (issue 13), so the default runs
are longest first. ``order_bound`` is the best ideal/actual that order allows with zero
overhead (greedy list scheduling). Concurrency 8 and 32 are run once more with the files
enqueued with priority = duration in ms (as ``enqueue --priority`` sets it), the way longest
first was had before: the same order, as a check.

Issue 4's figure (40 files x 5 s at concurrency 8) is :mod:`bench.run`'s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    ROOT,
    AudioFile,
    BenchServer,
    audio_set,
    child_env,
    median,
    mixed_durations,
    rounded,
    run_batch,
    worker_available,
)
from bench.fleet import scratch

CONCURRENCY = (1, 8, 32)
#: also measured with jobs claimed longest first (priority = duration): the claim order decides
#: how much of the last round is one long file running alone
LONGEST_FIRST = (8, 32)
#: measured in the first of the repeats only (see :func:`run`)
ONCE = (1,)


def baseline(server: BenchServer, files: list[AudioFile]) -> dict[str, Any]:
    argv = [PYTHON, "-m", "bench.baseline", "--url", server.url, *[str(f.path) for f in files]]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"baseline failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    per = result["files"]
    exact = sum(
        r["transcript"] == f.transcript and r["close_code"] == 1000
        for r, f in zip(per, files, strict=True)
    )
    return {
        "wall_s": wall,
        "exact": exact,
        "drain_s": median(r["drain_s"] for r in per),
        "send_rate_mean": sum(r["audio_s"] for r in per) / sum(r["send_s"] for r in per),
    }


def ideal(files: list[AudioFile], concurrency: int, drain_s: float) -> float:
    total = sum(f.seconds for f in files)
    return max(total / concurrency, max(f.seconds for f in files)) + drain_s


def list_schedule(durations: list[float], concurrency: int) -> float:
    """Makespan of greedy list scheduling in the given order (what a FIFO queue gives)."""
    slots = [0.0] * concurrency
    for seconds in durations:
        slots.sort()
        slots[0] += seconds
    return max(slots)


def measure(
    root: Path,
    files: list[AudioFile],
    levels: tuple[int, ...],
    longest_first: tuple[int, ...] = (),
    with_baseline: bool = True,
) -> dict[str, Any]:
    folder = files[0].path.parent
    out: dict[str, Any] = {
        "files": len(files),
        "audio_s": rounded(sum(f.seconds for f in files), 1),
        "longest_s": max(f.seconds for f in files),
    }
    runs: dict[str, Any] = {}
    base: dict[str, Any] = {}
    plan = [(c, False) for c in levels] + [(c, True) for c in longest_first]
    with BenchServer("tones", max_rate=1.25, burst_s=1.5) as server:
        for c, lpt in plan:
            first = (c, lpt) == plan[0]
            if first and with_baseline:  # side by side with the first level
                thread = threading.Thread(target=lambda: base.update(baseline(server, files)))
                thread.start()
            if worker_available():
                key = f"{c} longest first" if lpt else str(c)
                runs[key] = run_batch(
                    server, files, folder, root / f"c{c}{lpt}", concurrency=c, longest_first=lpt
                )
            if first and with_baseline:
                thread.join()
        out["overload_trips"] = server.wait_idle()["overload_trips"]
    drain = base.get("drain_s") or median(d for b in runs.values() for d in b.drains)
    out["drain_ms"] = rounded(1000 * drain, 1)
    if base:
        limit = ideal(files, 1, drain)
        out["baseline"] = {
            "wall_s": rounded(base["wall_s"], 2),
            "ideal_s": rounded(limit, 2),
            "efficiency": rounded(limit / base["wall_s"], 4),
            "exact": base["exact"],
            "send_rate_mean": rounded(base["send_rate_mean"], 5),
        }
    out["jobrunner"] = {}
    for key, batch in runs.items():
        c = int(key.split()[0])
        limit = ideal(files, c, drain)
        # both kinds of run claim longest first (the claim order, or the priorities)
        order = sorted((f.seconds for f in files), reverse=True)
        row = batch.summary()
        row.update(
            concurrency=c,
            ideal_s=rounded(limit, 2),
            efficiency=rounded(limit / batch.wall_s, 4),
            # the best this claim order allows with zero overhead (greedy list schedule)
            order_bound=rounded((max(sum(order) / c, max(order)) + drain)
                                / (list_schedule(order, c) + drain), 4),
        )  # fmt: skip
        if base:
            row["vs_baseline"] = rounded(batch.wall_s / base["wall_s"], 4)
        out["jobrunner"][key] = row
    if not worker_available():
        out["jobrunner_missing"] = "jobrunner run is not in this checkout yet"
    return out


def run(smoke: bool = False, run_index: int = 0) -> dict[str, Any]:
    """One run; ``python -m bench`` numbers its repeats with ``run_index``: concurrency 1 and
    the baseline (12 minutes, one file after another, nothing to contend for) run only in the
    first, the noisy concurrent levels in each."""
    first = run_index == 0
    with scratch("makespan") as tmp:
        root = Path(tmp)
        if smoke:
            files = audio_set(root / "mixed", [0.5, 1.0], seed=1)
            return {"mixed": measure(root, files, (1,), (2,))}
        files = audio_set(root / "mixed", mixed_durations(40, 5.0, 30.0, seed=1), seed=1)
        levels = CONCURRENCY if first else tuple(c for c in CONCURRENCY if c not in ONCE)
        return {"mixed": measure(root, files, levels, LONGEST_FIRST, with_baseline=first)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 files of 0.5-1 s")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
