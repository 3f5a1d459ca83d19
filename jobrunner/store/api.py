"""``Store``: the queue and the reports behind one object, what the worker, exporter and CLI use.

Each method is one short transaction (writes take the write lock up front, see ``engine``) and
translates driver errors into :class:`~jobrunner.errors.StoreError` subclasses. Time: a store
on PostgreSQL judges leases and due times by the database server's clock, inside the statements
(``store.timing``), because machines on one queue judge each other's leases; SQLite, and any
store given a clock (tests crank one by hand, so lease expiry is tested without sleeping),
judges by that clock. Methods block: async code calls them through
``anyio.to_thread.run_sync``; the object is thread-safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy.engine import Connection, Engine

from jobrunner.redact import redact_db_url
from jobrunner.store import (
    admin,
    claims,
    endings,
    intake,
    migrate,
    pieces,
    report_queries,
    reports,
    stream,
)
from jobrunner.store.engine import (
    begin_read,
    begin_write,
    clock_offset,
    create_engine,
    migrates_implicitly,
    translate_errors,
)
from jobrunner.store.records import (
    AttemptRecord,
    ClaimedJob,
    Inserted,
    JobState,
    LeaseHolder,
    NewJob,
    PieceRange,
    ReapResult,
    Selector,
    TurnRow,
    utcnow,
)
from jobrunner.store.report_queries import ReportSnapshot
from jobrunner.store.reports import AttemptView, JobView, StatusReport
from jobrunner.store.speech import SpeechStore
from jobrunner.store.speechmaps import speech_statements
from jobrunner.store.statements import Statements, statements
from jobrunner.store.stream import ExportJob

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


#: a clock further than this from the database server's is worth a warning
CLOCK_SKEW_WARNING_S = 2.0


def _warn_about_skew(offset: timedelta) -> None:
    if abs(offset.total_seconds()) > CLOCK_SKEW_WARNING_S:
        log.warning(
            "this machine's clock is %.1f s %s the database server's; leases are judged by the "
            "server's, the attempt times this machine records are off by as much",
            abs(offset.total_seconds()),
            "behind" if offset > timedelta(0) else "ahead of",
        )


class Store:
    """A job store on one database. Create with :meth:`open`; close when done.

    ``now`` is the store's clock: it stamps what the caller computes (a retry's ``run_after``,
    attempt times) and, unless ``server_clock``, judges leases and due times too.
    """

    def __init__(self, engine: Engine, *, now: Clock = utcnow, server_clock: bool = False) -> None:
        self.engine = engine
        self.now = now
        self.server_clock = server_clock
        self._sql: Statements = statements(engine.dialect.name, server_clock)
        #: the speech map's verbs (``store.speech``)
        self.speech = SpeechStore(
            self._read,
            self._write,
            lambda: self.now(),
            speech_statements(engine.dialect.name, server_clock),
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        now: Clock | None = None,
        migrate_schema: bool | None = None,
        server_clock: bool | None = None,
    ) -> Store:
        """Connect to ``url`` and make sure its schema is current.

        ``now``: the store's clock; by default this machine's UTC clock (tests inject one).

        ``server_clock``: judge leases and due times by the database server's clock, read in
        every statement. ``None`` (default): yes on PostgreSQL unless ``now`` is given (an
        injected clock is there to judge); SQLite is one machine and uses ``now``. A store on
        the server's clock logs a warning when this machine's clock is more than
        :data:`CLOCK_SKEW_WARNING_S` off (measured once, at open: it only affects the attempt
        times this machine records).

        ``migrate_schema``: ``True`` applies pending migrations, ``False`` skips the check
        (``db upgrade``/``db current``), ``None`` (default) lets the backend decide: SQLite is
        migrated on first use; a shared PostgreSQL database is only checked, and a schema that
        is behind raises :class:`~jobrunner.errors.MigrationError` asking for
        ``jobrunner db upgrade`` (one worker must not change the schema under the others).
        """
        engine = create_engine(url)
        if server_clock is None:
            server_clock = now is None and engine.dialect.name == "postgresql"
        prepare: Callable[[Engine], None] | None = None
        if migrate_schema is None:
            implicit = migrates_implicitly(engine)
            prepare = migrate.ensure_current if implicit else migrate.check_current
        elif migrate_schema:
            prepare = migrate.ensure_current
        try:
            store = cls(engine, now=now or utcnow, server_clock=server_clock)
            with translate_errors(url):
                if prepare is not None:
                    prepare(engine)
                if server_clock:
                    _warn_about_skew(clock_offset(engine, store.now))
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return redact_db_url(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(self.engine.url), begin_write(self.engine) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(self.engine.url), begin_read(self.engine) as conn:
            yield conn

    # -- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        with translate_errors(self.engine.url):
            return migrate.current_revision(self.engine)

    def upgrade(self) -> tuple[str | None, str]:
        with translate_errors(self.engine.url):
            return migrate.upgrade(self.engine)

    # -- queue verbs (contracts in store.intake, claims, endings and admin) ---------------

    def enqueue_many(self, jobs: Sequence[NewJob]) -> list[Inserted]:
        with self._write() as conn:
            return intake.enqueue_many(conn, self._sql, jobs, self.now())

    def claim(
        self, n: int, owner: str, lease_ttl: float, label: str | None = None
    ) -> list[ClaimedJob]:
        with self._write() as conn:
            return claims.claim(conn, self._sql, self.now(), n, owner, lease_ttl, label)

    def renew_leases(
        self, owner: str, held: Iterable[tuple[int, int]], ttl: float
    ) -> set[tuple[int, int]]:
        with self._write() as conn:
            return claims.renew_leases(conn, self._sql, self.now(), owner, held, ttl)

    def complete(
        self,
        job_id: int,
        owner: str,
        attempt: AttemptRecord,
        turns: Sequence[TurnRow],
        transcript: str,
        *,
        language: str | None = None,
        duration_s: float | None = None,
    ) -> JobState | None:
        """Succeed the attempt; for a piece, its parent's new state when this changed it."""
        with self._write() as conn:
            return endings.complete(
                conn,
                self._sql,
                self.now(),
                job_id,
                owner,
                attempt,
                turns,
                transcript,
                language=language,
                duration_s=duration_s,
            )

    def split(
        self, job_id: int, owner: str, number: int, ranges: Sequence[PieceRange]
    ) -> list[int]:
        """Split claimed job ``job_id`` into pieces (``store.pieces.split``); their ids."""
        with self._write() as conn:
            return pieces.split(conn, self._sql, self.now(), job_id, owner, number, ranges)

    def retry_later(
        self, job_id: int, owner: str, attempt: AttemptRecord, run_after: datetime
    ) -> JobState:
        with self._write() as conn:
            return endings.retry_later(
                conn, self._sql, self.now(), job_id, owner, attempt, run_after
            )

    def fail(
        self,
        job_id: int,
        owner: str,
        attempt: AttemptRecord,
        reason: str,
        kind: str,
        *,
        invalid: bool = False,
    ) -> None:
        with self._write() as conn:
            endings.fail(
                conn, self._sql, self.now(), job_id, owner, attempt, reason, kind, invalid=invalid
            )

    def release(self, job_id: int, owner: str) -> None:
        with self._write() as conn:
            endings.release(conn, self._sql, self.now(), job_id, owner)

    def reap_expired(self, now: datetime | None = None) -> ReapResult:
        """Reap the leases expired by the store's clock, or by ``now`` when given."""
        sql = self._sql if now is None else statements(self.engine.dialect.name)
        with self._write() as conn:
            return claims.reap_expired(conn, sql, self.now() if now is None else now)

    def reap_owners(self, owners: Iterable[str]) -> ReapResult:
        """Reap the leases of owners whose processes are gone, expired or not."""
        with self._write() as conn:
            return claims.reap_owners(conn, self._sql, self.now(), owners)

    def requeue(
        self,
        selector: Selector,
        *,
        force: bool = False,
        max_attempts: int | None = None,
        invalid: bool = False,
    ) -> list[int]:
        with self._write() as conn:
            return admin.requeue(
                conn,
                self._sql,
                self.now(),
                selector,
                force=force,
                max_attempts=max_attempts,
                invalid=invalid,
            )

    def cancel(self, selector: Selector) -> list[int]:
        with self._write() as conn:
            return admin.cancel(conn, self._sql, self.now(), selector)

    # -- reports ----------------------------------------------------------------------------

    def existing_jobs(self, keys: Iterable[str]) -> dict[str, int]:
        """Ids of the jobs that hold these idempotency keys (for ``enqueue --dry-run``)."""
        with self._read() as conn:
            return intake.existing_jobs(conn, self._sql, keys)

    def _judging_now(self, conn: Connection) -> datetime:
        """Now, by the clock that judges leases: the server's (one round trip) or ``now``."""
        if self.server_clock:
            server: datetime = conn.execute(self._sql.server_now).scalar_one()
            return server
        return self.now()

    def status(self) -> StatusReport:
        with self._read() as conn:
            return reports.status_report(conn, self._judging_now(conn))

    def claimable(self, long_s: float, label: str | None = None) -> tuple[int, int]:
        """Rows claimable now, and of those the unsplit jobs longer than ``long_s``."""
        with self._read() as conn:
            return claims.claimable(conn, self._judging_now(conn), long_s, label)

    def lease_holders(self, label: str | None = None) -> list[LeaseHolder]:
        """Owners holding leases on running jobs (with ``label``), by owner."""
        with self._read() as conn:
            return claims.lease_holders(conn, self._judging_now(conn), label)

    def jobs(
        self,
        *,
        states: Iterable[str] | None = None,
        label: str | None = None,
        limit: int | None = None,
        after_id: int = 0,
        coverage: str | None = None,
    ) -> list[JobView]:
        with self._read() as conn:
            return reports.list_jobs(
                conn,
                states=states,
                label=label,
                limit=limit,
                after_id=after_id,
                coverage=coverage,
            )

    def count(
        self,
        *,
        states: Iterable[str] | None = None,
        label: str | None = None,
        coverage: str | None = None,
    ) -> int:
        with self._read() as conn:
            return reports.count_jobs(conn, states=states, label=label, coverage=coverage)

    def next_run_after(self, label: str | None = None) -> datetime | None:
        """When the earliest queued job becomes claimable, on the store's clock (``due -
        store.now()`` is the wait, whatever this machine's clock says); ``None`` when none is
        queued."""
        with self._read() as conn:
            due = reports.next_run_after(conn, label)
            if due is None or not self.server_clock:
                return due
            return self.now() + (due - self._judging_now(conn))

    def job(self, job_id: int) -> JobView | None:
        with self._read() as conn:
            return reports.get_job(conn, job_id)

    def attempts(self, job_id: int) -> list[AttemptView]:
        with self._read() as conn:
            return reports.job_attempts(conn, job_id)

    def iter_export(
        self,
        *,
        states: Iterable[str] | None = None,
        label: str | None = None,
        page_size: int = 200,
    ) -> Iterator[ExportJob]:
        """Stream jobs with transcripts and turns in id order (constant memory)."""
        return stream.iter_export(self._read, states=states, label=label, page_size=page_size)

    def report_snapshot(
        self, *, states: Iterable[str] | None = None, label: str | None = None
    ) -> ReportSnapshot:
        """Everything ``jobrunner report`` reads, whatever the schema revision (never migrates;
        see ``report_queries``)."""
        revision = self.revision()
        with self._read() as conn:
            return report_queries.read_snapshot(
                conn, revision, migrate.HEAD_REVISION, states=states, label=label
            )
