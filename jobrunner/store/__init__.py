"""The durable job store: SQLite by default, PostgreSQL for scale-out.

Public API (everything else in this package is internal)::

    store = Store.open("sqlite:///jobrunner.db")        # SQLite: migrates on first use
    store.enqueue_many([NewJob(...)])                   # -> [Inserted]
    jobs = store.claim(4, owner, lease_ttl=60)          # -> [ClaimedJob]
    store.renew_leases(owner, [(id, attempt)], ttl=60)  # -> (id, attempt) pairs still ours
    store.complete(job_id, owner, AttemptRecord(...), [TurnRow(...)], transcript)
    store.retry_later(job_id, owner, attempt, run_after) / store.fail(...) / store.release(...)
    store.reap_expired() / store.reap_owners([owner]) / store.lease_holders()
    store.requeue(Selector(...)) / store.cancel(Selector(...))
    store.status() / store.jobs(...) / store.attempts(job_id) / store.iter_export(...)
    store.next_run_after()                              # when a backed-off job is due
    store.speech.save_map(StoredMap(...)) / .targets(Selector(...)) / .save_alignment(...)

Modules: ``records`` (plain dataclasses, no SQL), ``schema`` (tables), ``engine`` (the only
dialect-specific code), ``migrate`` (alembic), ``statements`` (every write statement, named once),
the verbs by role: ``intake`` (enqueue), ``claims`` (claim, renew, reap; its statements in
``lease_statements``), ``endings`` (complete, retry_later, fail, release), ``admin`` (requeue,
cancel), with ``rows`` (records to rows, the attempt insert), ``text`` (the rule for text the
database cannot hold) and ``timing`` (the store's clock or the PostgreSQL server's, in the
statements); ``reports`` (read-only queries), ``stream`` (the export stream), ``speechmaps``
(speech maps per content, the jobs that need one), ``alignment`` (what aligning transcripts
with them wrote), ``speech`` (their verbs, as ``store.speech``), ``api`` (the ``Store``
facade).
"""

from __future__ import annotations

from jobrunner.owner import make_owner
from jobrunner.store.api import Store
from jobrunner.store.engine import database_exists, database_file
from jobrunner.store.migrate import head_revision
from jobrunner.store.records import (
    STATES,
    AttemptOutcome,
    AttemptRecord,
    ClaimedJob,
    Inserted,
    JobState,
    LeaseHolder,
    MapTarget,
    NewJob,
    PieceRange,
    ReapResult,
    Selector,
    StoredMap,
    StoredTurn,
    TurnRow,
    TurnSpeech,
    TurnsToAlign,
    utcnow,
)
from jobrunner.store.reports import AttemptView, JobView, StatusReport, WorkerView
from jobrunner.store.stream import ExportJob, TurnView

__all__ = [
    "STATES",
    "AttemptOutcome",
    "AttemptRecord",
    "AttemptView",
    "ClaimedJob",
    "ExportJob",
    "Inserted",
    "JobState",
    "JobView",
    "LeaseHolder",
    "MapTarget",
    "NewJob",
    "PieceRange",
    "ReapResult",
    "Selector",
    "StatusReport",
    "Store",
    "StoredMap",
    "StoredTurn",
    "TurnRow",
    "TurnSpeech",
    "TurnView",
    "TurnsToAlign",
    "WorkerView",
    "database_exists",
    "database_file",
    "head_revision",
    "make_owner",
    "utcnow",
]
