"""``Store.speech``: the speech map's verbs on one store.

Maps are kept per content (:mod:`~jobrunner.store.speechmaps`); alignments with them are
written fenced by the transcript they were computed from (:mod:`~jobrunner.store.alignment`).
Each method is one short transaction of the store that owns this object, like the
:class:`~jobrunner.store.api.Store` verbs, and blocks the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.engine import Connection

from jobrunner.store import alignment, speechmaps
from jobrunner.store.records import MapTarget, Selector, StoredMap, TurnSpeech, TurnsToAlign
from jobrunner.store.speechmaps import SpeechStatements

Transaction = Callable[[], AbstractContextManager[Connection]]


class SpeechStore:
    """The speech map's verbs; reached as ``store.speech``."""

    def __init__(
        self,
        read: Transaction,
        write: Transaction,
        now: Callable[[], datetime],
        sql: SpeechStatements,
    ) -> None:
        self._read = read
        self._write = write
        self._now = now
        self._sql = sql

    def save_map(self, stored: StoredMap) -> None:
        with self._write() as conn:
            speechmaps.save_map(conn, self._sql, stored, self._now())

    def find(self, sha256: str, mode: str, detector: str) -> StoredMap | None:
        with self._read() as conn:
            return speechmaps.find_map(conn, sha256, mode, detector)

    def keys(self, sha256s: Iterable[str], detector: str) -> set[tuple[str, str]]:
        """``(sha256, mode)`` of the stored maps of these contents by ``detector``."""
        with self._read() as conn:
            return speechmaps.stored_keys(conn, sha256s, detector)

    def targets(
        self, selector: Selector, *, after_id: int = 0, limit: int = 500
    ) -> list[MapTarget]:
        with self._read() as conn:
            return speechmaps.targets(conn, selector, after_id=after_id, limit=limit)

    def next_queued(self, n: int, label: str | None = None) -> list[MapTarget]:
        with self._read() as conn:
            return speechmaps.next_queued(conn, n, label)

    def turns_to_align(self, job_id: int) -> TurnsToAlign | None:
        with self._read() as conn:
            return alignment.turns_to_align(conn, job_id)

    def save_alignment(
        self,
        job_id: int,
        attempt_id: int,
        aligned: Sequence[TurnSpeech],
        verdict: str | None,
        uncovered_s: float | None,
    ) -> bool:
        with self._write() as conn:
            return alignment.save_alignment(
                conn, self._sql, job_id, attempt_id, aligned, verdict, uncovered_s
            )

    def end_latencies(self, job_ids: Sequence[int]) -> dict[int, list[float]]:
        """Each listed job's known ``end_latency_s`` values."""
        with self._read() as conn:
            return alignment.end_latencies(conn, job_ids)


__all__ = ["SpeechStore"]
