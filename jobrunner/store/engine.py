"""Engines, transactions and the only dialect-specific code of the store.

SQLite is the default and must survive several worker processes on one file:

* WAL journal, so readers never block the writer and the writer never blocks readers;
* ``busy_timeout``, so a writer waits for the lock instead of failing with "database is locked";
* write transactions start with ``BEGIN IMMEDIATE``: under WAL a transaction that reads and then
  writes (claim, complete) and started as a plain deferred ``BEGIN`` cannot wait for the lock when
  another process wrote meanwhile; it fails at once with SQLITE_BUSY. Taking the write lock first
  makes every write transaction wait its turn on the busy timeout instead;
* ``foreign_keys=ON`` (off by default in SQLite) and ``synchronous=NORMAL`` (durable across a
  killed process in WAL mode; only an OS crash or power cut can lose the last commits).

pysqlite's own transaction handling is switched off and SQLAlchemy emits ``BEGIN`` itself (the
recipe from SQLAlchemy's SQLite notes), which is what lets us choose ``IMMEDIATE``.

PostgreSQL needs little: ``FOR UPDATE SKIP LOCKED`` is emitted by SQLAlchemy there and ignored
on SQLite; ``INSERT ... ON CONFLICT DO NOTHING`` and the migration lock differ by dialect and live
here. A PostgreSQL database is shared by workers on many machines, so it is never migrated
implicitly (:func:`migrates_implicitly`): a worker of a newer jobrunner must not change the schema
under running older ones; ``jobrunner db upgrade`` does it, once, on purpose. Connections time out
after :data:`PG_CONNECT_TIMEOUT_S` instead of libpq's "wait forever", statements after
:data:`PG_STATEMENT_TIMEOUT`, and TCP keepalives (:data:`PG_KEEPALIVES`) notice a server that
went silent, so a lost database cannot hang a worker's shutdown. A server that cannot be
reached is reported in one line naming host, port and database (never the password). Leases
are judged by the database server's clock there (``store.timing``), not by each machine's.

All calls are blocking; the store is thread-safe (one engine, a pool of connections), so async
callers run it with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from jobrunner.errors import DatabaseUnavailableError, StoreError
from jobrunner.redact import redact_db_url

#: how long a SQLite writer waits for the lock before giving up
SQLITE_BUSY_TIMEOUT_MS = 60_000
#: how long opening a PostgreSQL connection may take (``?connect_timeout=`` in the URL wins)
PG_CONNECT_TIMEOUT_S = 10
#: the server cancels a statement that runs longer (our statements take milliseconds; a
#: ``-c statement_timeout=`` in the URL's ``?options=`` wins, ``0`` turns it off)
PG_STATEMENT_TIMEOUT = "30s"
#: libpq TCP keepalives: a database that goes silent (host gone, network cut) is given up on
#: after idle + interval * count = 60 s instead of the kernel's two hours, and data it never
#: acknowledges after 60 s (``tcp_user_timeout``, libpq 12+); each key in the URL wins
PG_KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}

_WRITE = "jobrunner_write"
_MIGRATION_LOCK_KEY = 0x6A6F6272  # "jobr": a constant advisory-lock key for migrations


def parse_url(url: str) -> URL:
    """Parse a database URL; ``postgresql://`` means psycopg 3 (the ``postgres`` extra)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(f"not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def database_exists(url: str) -> bool:
    """False only when a SQLite file does not exist yet (so a dry run need not create it)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database or ""
    return database not in ("", ":memory:") and Path(database).expanduser().is_file()


def database_file(url: str) -> str | None:
    """The file of a SQLite URL (``None`` for a server database or an in-memory one)."""
    parsed = parse_url(url)
    return parsed.database or None if parsed.get_backend_name() == "sqlite" else None


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with this module's SQLite or PostgreSQL settings applied."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=_pg_connect_args(parsed))
    except NoSuchModuleError as exc:
        raise DatabaseUnavailableError(
            f"no driver for {parsed.drivername!r} (PostgreSQL needs jobrunner[postgres])"
        ) from exc
    except ImportError as exc:
        raise DatabaseUnavailableError(
            f"database driver for {parsed.drivername!r} is not installed: {exc}"
        ) from exc


def _pg_connect_args(url: URL) -> dict[str, Any]:
    """libpq settings so that no call can hang: the URL's own query parameters win."""
    if url.get_backend_name() != "postgresql":
        return {}
    defaults: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "application_name": "jobrunner",
        **PG_KEEPALIVES,
    }
    if _libpq_version() < 120000:
        del defaults["tcp_user_timeout"]
    args = {key: value for key, value in defaults.items() if key not in url.query}
    # the server applies -c options in order: the URL's, coming last, win
    theirs = url.query.get("options", "")
    theirs = " ".join(theirs) if isinstance(theirs, tuple) else theirs
    args["options"] = f"-c statement_timeout={PG_STATEMENT_TIMEOUT} {theirs}".strip()
    return args


def _libpq_version() -> int:
    try:
        from psycopg import pq
    except ImportError:  # another driver: it reports itself when the engine connects
        return 0
    return pq.version()


def migrates_implicitly(engine: Engine) -> bool:
    """Whether opening the store may apply pending migrations by itself.

    SQLite: yes (a file is normally used by one machine; first use creates it). PostgreSQL: no,
    the schema of a shared queue changes only through ``jobrunner db upgrade``.
    """
    return engine.dialect.name == "sqlite"


def clock_offset(engine: Engine, local: Callable[[], datetime]) -> timedelta:
    """How far the database server's clock is ahead of ``local`` (zero on SQLite).

    Only for a warning: leases are judged by the server's clock inside the statements, never by
    ``local`` plus an offset, which an NTP step or a VM resume would make wrong.
    """
    if engine.dialect.name != "postgresql":
        return timedelta(0)
    with engine.connect() as conn:
        before = local()
        server: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        after = local()
    return server - (before + (after - before) / 2)


def describe_server(url: URL) -> str:
    """Where ``url`` points, for error messages: host, port, database, user; no password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    host = url.host or url.query.get("host") or "the local socket"
    if isinstance(host, tuple):
        host = ",".join(host)
    port = url.port or url.query.get("port") or 5432
    user = f', user "{url.username}"' if url.username else ""
    return f'PostgreSQL at {host}:{port} (database "{url.database or url.username}"{user})'


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    kwargs: dict[str, Any] = {}
    if database in ("", ":memory:"):
        kwargs["poolclass"] = StaticPool  # one shared connection, else each sees its own DB
    else:
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise DatabaseUnavailableError(
                f"cannot open database {redact_db_url(url)}: folder {folder} does not exist"
            )
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if database not in ("", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: it holds the write lock from its first statement on SQLite.

    Keep it short and never hold it across network I/O.
    """
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def begin_read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (a consistent snapshot; never blocks writers under WAL)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def insert_ignoring_conflicts(dialect: str, table: sa.Table, *index_elements: str) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` in ``dialect``."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
    raise StoreError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")


def pick_once(select: sa.Select[Any], name: str) -> sa.CTE:
    """A row-picking ``SELECT ... LIMIT n FOR UPDATE SKIP LOCKED`` evaluated once per statement.

    Inline (``UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)``) PostgreSQL
    may plan the subquery as the inner side of a nested-loop semi join and re-run it for every
    outer row; each re-run skips the rows this statement has just updated and locks the next
    ones, so ``claim(1)`` took every queued job. As a materialized CTE it runs exactly once.
    SQLite evaluates an uncorrelated ``IN`` subquery once anyway (and ``AS MATERIALIZED`` needs
    SQLite 3.35), so the keyword is emitted for PostgreSQL only.
    """
    return select.cte(name).prefix_with("MATERIALIZED", dialect="postgresql")


def lock_for_migration(conn: Connection) -> None:
    """Serialise concurrent migrators for the rest of ``conn``'s (write) transaction.

    SQLite: ``BEGIN IMMEDIATE`` already holds the database's write lock. PostgreSQL: a
    transaction-scoped advisory lock; the statement timeout is lifted for the transaction,
    since waiting for another migrator or building an index on a large queue may take longer.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


#: libpq's preamble before the reason ("connection failed: connection to server at ... failed: ")
_CONNECT_FAILED = re.compile(r"^.*\bfailed: ")


@contextmanager
def translate_errors(url: str | URL) -> Iterator[None]:
    """Turn driver errors into the store's errors, once, at the boundary."""
    try:
        yield
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        parsed = url if isinstance(url, URL) else parse_url(url)
        if exc.statement is None and parsed.get_backend_name() == "postgresql":
            # no statement: opening the connection failed (refused, DNS, auth, no such database)
            reason = _CONNECT_FAILED.sub("", detail)
            raise DatabaseUnavailableError(
                f"cannot connect to {describe_server(parsed)}: {reason}"
            ) from exc
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise DatabaseUnavailableError(f"database {redact_db_url(url)}: {detail}") from exc
        raise StoreError(f"database {redact_db_url(url)}: {detail}") from exc
    except sa.exc.TimeoutError as exc:  # every pooled connection stayed busy
        raise DatabaseUnavailableError(f"database {redact_db_url(url)}: {exc}") from exc
    except sa.exc.StatementError as exc:
        # a bound value our own types refused (a naive datetime): the caller's bug, unwrapped
        if isinstance(exc.orig, ValueError | TypeError):
            raise exc.orig from exc
        raise
