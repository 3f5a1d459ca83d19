"""``claim(n)`` hands out at most ``n`` jobs on every backend.

PostgreSQL once handed out every queued job for ``claim(1)``: the planner re-ran the
``LIMIT n FOR UPDATE SKIP LOCKED`` subquery for each outer row (see ``engine.pick_once``).
"""

from __future__ import annotations

from storekit import new_job

from jobrunner.store import Store


def test_claim_takes_at_most_n_jobs_in_priority_then_id_order(store: Store) -> None:
    ids = [r.job_id for r in store.enqueue_many([new_job(i) for i in range(10)])]
    batches = [[job.id for job in store.claim(n, "w", 60)] for n in (1, 3, 4, 5)]
    assert [len(b) for b in batches] == [1, 3, 4, 2]
    assert [i for b in batches for i in b] == ids
    assert store.claim(5, "w", 60) == []
    assert store.status().count("running") == 10
