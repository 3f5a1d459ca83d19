"""Enqueue throughput and SQLite claim/complete throughput.

    python -m bench.enqueue            # 10,000 files, 2,000 jobs x 4 processes (about a minute)
    python -m bench.enqueue --smoke    # 200 files, 200 jobs (seconds)

enqueue: files/s of ``enqueue_paths`` (walk + probe + sha256 + insert) on small generated WAV
files (0.1 s of 16 kHz PCM16 noise, 3.2 kB each, every file different), into a fresh SQLite
database per round. claim/complete: jobs/s drained by 4 worker processes from one SQLite file,
each cycle being one ``claim`` (1-4 jobs) and one ``complete`` per job, as the worker does.
Each figure is the median of 3 rounds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from jobrunner.config import Settings
from jobrunner.enqueue import enqueue_paths
from jobrunner.store import AttemptRecord, NewJob, Store, TurnRow, make_owner, utcnow

ROUNDS = 3
WORKERS = 4


def make_files(folder: Path, count: int) -> None:
    rng = np.random.default_rng(7)
    for i in range(count):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        noise = rng.integers(-3000, 3000, size=1600, dtype=np.int16)
        sf.write(sub / f"{i:06d}.wav", noise, 16000, subtype="PCM_16")


def enqueue_round(folder: Path, db: Path) -> float:
    with Store.open(f"sqlite:///{db}") as store:
        start = time.perf_counter()
        result = enqueue_paths(store, Settings(), [folder])
        elapsed = time.perf_counter() - start
    assert result.summary.invalid == 0 and result.summary.duplicates == 0
    return result.summary.new / elapsed


def _drain(url: str, barrier: Barrier, counts: Any) -> None:
    owner = make_owner()
    done = 0
    with Store.open(url) as store:
        barrier.wait()
        while jobs := store.claim(1 + done % 4, owner, lease_ttl=300):
            for job in jobs:
                now = utcnow()
                record = AttemptRecord(job.attempt, owner, now, now)
                store.complete(job.id, owner, record, [TurnRow(0, " hello")], " hello")
                done += 1
    counts.put(done)


def claim_round(url: str, jobs: int, workers: int = WORKERS) -> float:
    """jobs/s drained from ``url`` (a fresh, upgraded database) by ``workers`` processes."""
    with Store.open(url, migrate_schema=True) as store:
        store.enqueue_many(
            [
                NewJob(
                    f"/a/{i}.wav",
                    f"key{i}",
                    "fp",
                    {},
                    3,
                    duration_s=1.0,
                    sample_rate=16000,
                    channels=1,
                    frames=16000,
                )  # fmt: skip
                for i in range(jobs)
            ]
        )
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    counts = ctx.Queue()
    procs = [ctx.Process(target=_drain, args=(url, barrier, counts)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    total = sum(counts.get(timeout=900) for _ in procs)
    elapsed = time.perf_counter() - start
    for proc in procs:
        proc.join()
    with Store.open(url) as store:
        done = store.status().count("succeeded")
        once = {j.attempts for j in store.jobs(states=["succeeded"])} == {1}
    assert total == jobs == done and once, (total, jobs, done)
    return jobs / elapsed


def run(smoke: bool = False) -> dict[str, Any]:
    files = 200 if smoke else 10_000
    jobs = 200 if smoke else 2_000
    with tempfile.TemporaryDirectory(prefix="bench-enqueue-") as tmp:
        root = Path(tmp)
        make_files(root / "audio", files)
        enqueue_rates = [enqueue_round(root / "audio", root / f"e{r}.db") for r in range(ROUNDS)]
        claim_rates = [claim_round(f"sqlite:///{root / f'c{r}.db'}", jobs) for r in range(ROUNDS)]
    return {
        "enqueue_files": files,
        "enqueue_files_per_s": round(statistics.median(enqueue_rates), 1),
        "enqueue_rounds": [round(r, 1) for r in enqueue_rates],
        "claim_jobs": jobs,
        "claim_workers": WORKERS,
        "claim_complete_jobs_per_s": round(statistics.median(claim_rates), 1),
        "claim_rounds": [round(r, 1) for r in claim_rates],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
