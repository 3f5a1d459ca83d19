"""A worker process for the claim-exclusivity test: claim and complete until the queue is empty.

Usage: python drain_worker.py URL SEED. Prints ``ready``, waits for a line on stdin (so every
process starts draining at once), then prints the claimed ids as one JSON list.
"""

from __future__ import annotations

import json
import random
import sys

from jobrunner.store import AttemptRecord, Store, TurnRow, make_owner, utcnow


def main() -> None:
    url, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    owner = make_owner()
    claimed: list[int] = []
    with Store.open(url) as store:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        while jobs := store.claim(rng.randint(1, 8), owner, lease_ttl=300):
            for job in jobs:
                claimed.append(job.id)
                now = utcnow()
                record = AttemptRecord(job.attempt, owner, now, now, request_id=f"r{job.id}")
                text = f" job {job.id}"
                store.complete(job.id, owner, record, [TurnRow(0, text)], text)
    sys.stdout.write(json.dumps(claimed) + "\n")


if __name__ == "__main__":
    main()
