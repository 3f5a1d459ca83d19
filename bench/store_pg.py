"""Claim/complete throughput of a shared PostgreSQL queue, next to SQLite, with 8 processes.

    python -m bench.store_pg            # 4,000 jobs x 8 processes, 3 rounds per backend
    python -m bench.store_pg --smoke    # 200 jobs x 2 processes, 1 round (seconds)

Each worker process runs the worker's database cycle: one ``claim`` of 1-4 jobs, then one
``complete`` per job (status + attempt + one turn + transcript in one transaction), until the
queue is empty (``bench.enqueue._drain``). jobs/s = jobs / wall time from the moment all
processes start together. Every job is checked to be claimed exactly once.

PostgreSQL is a throwaway local server (``tests/pg.py``: initdb + pg_ctl on loopback) with its
default, durable settings (fsync on, synchronous_commit on) over TCP; SQLite is one WAL file
with the store's settings (synchronous=NORMAL). Both share the machine's cores with the workers,
as a single-box deployment would; a real fleet has the server on its own machine. The figure is
the median of the rounds, which are listed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.enqueue import claim_round
from tests.pg import Cluster, find_bindir

ROUNDS = 3
WORKERS = 8


def run(smoke: bool = False) -> dict[str, Any]:
    jobs = 200 if smoke else 4_000
    workers = 2 if smoke else WORKERS
    rounds = 1 if smoke else ROUNDS
    bindir = find_bindir()
    if bindir is None:
        return {"error": "PostgreSQL server binaries not found (apt-get install postgresql)"}
    cluster = Cluster.start(bindir, durable=True)
    try:
        pg = []
        for r in range(rounds):
            name = cluster.create_database(name=f"bench{r}")
            pg.append(claim_round(cluster.url(name), jobs, workers))
            cluster.drop_database(name)
    finally:
        cluster.stop()
    with tempfile.TemporaryDirectory(prefix="bench-store-pg-") as tmp:
        lite = [
            claim_round(f"sqlite:///{Path(tmp) / f's{r}.db'}", jobs, workers) for r in range(rounds)
        ]
    pg_rate, lite_rate = statistics.median(pg), statistics.median(lite)
    return {
        "jobs": jobs,
        "workers": workers,
        "postgresql_jobs_per_s": round(pg_rate, 1),
        "postgresql_rounds": [round(r, 1) for r in pg],
        "sqlite_jobs_per_s": round(lite_rate, 1),
        "sqlite_rounds": [round(r, 1) for r in lite],
        "postgresql_vs_sqlite": round(pg_rate / lite_rate, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
