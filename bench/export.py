"""Export throughput: turns/s of ``jobrunner.export`` from a SQLite store to a file.

    python -m bench.export            # 2,000 jobs x 50 turns = 100,000 turns (about a minute)
    python -m bench.export --smoke    # 40 jobs x 50 turns = 2,000 turns (seconds)

The database is filled through the store's own verbs (enqueue, claim, complete), with turn
texts that carry commas, quotes and non-ASCII letters, then exported as JSONL and CSV, by file
and by turn, into a temporary folder (the atomic temp-file + fsync + rename path included).
Each figure is the median of 3 rounds (the rounds are listed too): ``turns_per_s`` per wall
second, the headline, and ``turns_per_cpu_s`` per CPU second of this process, which a busy
machine disturbs less (``load_avg_1min`` says how busy it was). ``peak_mib`` is the peak of
Python allocations during one extra JSONL-by-file round (tracemalloc): one page of the store's
stream (at most 200 jobs or 20,000 turns), whatever the total.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from jobrunner.export import export
from jobrunner.store import AttemptRecord, NewJob, Store, TurnRow, make_owner, utcnow

ROUNDS = 3
TURNS_PER_JOB = 50
CASES = (("jsonl", "file"), ("jsonl", "turn"), ("csv", "file"), ("csv", "turn"))
PHRASES = (
    "Hi, I'd like to book a table for four people tonight.",
    ' Sure, "around seven thirty" works for us.',
    " Merci, à ce soir — see you then!",
    " My internet has been down since this morning, can you help?",
)


def fill(store: Store, jobs: int) -> int:
    owner = make_owner()
    store.enqueue_many(
        [
            NewJob(
                path=f"/recordings/{i // 100:03d}/call-{i:06d}.wav",
                idempotency_key=f"{i:064x}:fp",
                fingerprint="fp",
                settings={"model": "ink-2", "encoding": "auto"},
                max_attempts=3,
                sha256=f"{i:064x}",
                sample_rate=16000,
                channels=1,
                frames=16000 * 2 * TURNS_PER_JOB,
                duration_s=2.0 * TURNS_PER_JOB,
                label="bench",
            )
            for i in range(jobs)
        ]
    )
    turns = 0
    while claimed := store.claim(50, owner, lease_ttl=600):
        for job in claimed:
            rows = [
                TurnRow(
                    index=k,
                    transcript=PHRASES[(job.id + k) % len(PHRASES)],
                    start_audio_s=2.0 * k + 0.3,
                    first_update_audio_s=2.0 * k + 0.6,
                    eager_end_audio_s=2.0 * k + 1.4,
                    end_audio_s=2.0 * k + 1.8,
                    updates=3,
                    eager_ends=1,
                    start_wall_s=2.0 * k + 0.35,
                    end_wall_s=2.0 * k + 1.85,
                )
                for k in range(TURNS_PER_JOB)
            ]
            now = utcnow()
            attempt = AttemptRecord(job.attempt, owner, now, now, request_id="req", encoding="x")
            store.complete(job.id, owner, attempt, rows, "".join(r.transcript for r in rows))
            turns += len(rows)
    return turns


def one_round(store: Store, fmt: Any, by: Any, out: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one export, and the turns it wrote."""
    wall, cpu = time.perf_counter(), time.process_time()
    summary = export(store, fmt, by, out=out)
    return time.perf_counter() - wall, time.process_time() - cpu, summary.turns


def run(smoke: bool = False) -> dict[str, Any]:
    jobs = 40 if smoke else 2_000
    results: dict[str, Any] = {"jobs": jobs, "turns_per_job": TURNS_PER_JOB}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        with Store.open(f"sqlite:///{root / 'jobs.db'}") as store:
            t0 = time.perf_counter()
            results["turns"] = fill(store, jobs)
            results["fill_s"] = round(time.perf_counter() - t0, 1)
            results["load_avg_1min"] = os.getloadavg()[0]
            for fmt, by in CASES:
                rates, cpu_rates, size = [], [], 0
                for r in range(ROUNDS):
                    out = root / f"out-{r}.{fmt}"
                    wall, cpu, turns = one_round(store, fmt, by, out)
                    assert turns == results["turns"], (turns, results["turns"])
                    rates.append(turns / wall)
                    cpu_rates.append(turns / cpu)
                    size = out.stat().st_size
                    out.unlink()
                results[f"{fmt}_by_{by}"] = {
                    "turns_per_s": round(statistics.median(rates)),
                    "turns_per_cpu_s": round(statistics.median(cpu_rates)),
                    "rounds": [round(x) for x in rates],
                    "mib": round(size / (1 << 20), 1),
                }
            tracemalloc.start()
            one_round(store, "jsonl", "file", root / "traced.jsonl")
            results["peak_mib"] = round(tracemalloc.get_traced_memory()[1] / (1 << 20), 1)
            tracemalloc.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 turns, for CI")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
