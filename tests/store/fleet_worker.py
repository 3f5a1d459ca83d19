"""A worker process of the fleet tests, speaking only the store's verbs.

    python fleet_worker.py drain URL SEED TTL   reap + claim + complete until nothing is queued
                                                or running; prints the claimed ids (JSON list)
    python fleet_worker.py hold URL N TTL       claim N jobs, print {"owner", "ids"}, then keep
                                                renewing their leases until killed

Both print ``ready`` first and wait for a line on stdin, so a test can start a fleet at once.
"""

from __future__ import annotations

import json
import random
import sys
import time

from jobrunner.store import AttemptRecord, Store, TurnRow, make_owner, utcnow


def _wait_for_go() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()


def drain(store: Store, seed: int, ttl: float) -> None:
    rng = random.Random(seed)
    owner = make_owner()
    claimed: list[int] = []
    _wait_for_go()
    while True:
        store.reap_expired()
        jobs = store.claim(rng.randint(1, 8), owner, lease_ttl=ttl)
        for job in jobs:
            claimed.append(job.id)
            now = utcnow()
            record = AttemptRecord(job.attempt, owner, now, now, request_id=f"r{job.id}")
            text = f" job {job.id}"
            store.complete(job.id, owner, record, [TurnRow(0, text)], text)
        if not jobs:
            if store.count(states=["queued", "running"]) == 0:
                break
            time.sleep(0.05)  # the rest is leased to others: look again (and reap) shortly
    sys.stdout.write(json.dumps(claimed) + "\n")


def hold(store: Store, n: int, ttl: float) -> None:
    owner = make_owner()
    _wait_for_go()
    jobs = store.claim(n, owner, lease_ttl=ttl)
    ids = [job.id for job in jobs]
    sys.stdout.write(json.dumps({"owner": owner, "ids": ids}) + "\n")
    sys.stdout.flush()
    while True:  # a live worker renews every TTL/3, until it is killed
        time.sleep(ttl / 3)
        store.renew_leases(owner, [(job.id, job.attempt) for job in jobs], ttl)


def main() -> None:
    mode, url, number, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with Store.open(url) as store:
        if mode == "drain":
            drain(store, number, ttl)
        else:
            hold(store, number, ttl)


if __name__ == "__main__":
    main()
