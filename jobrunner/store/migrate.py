"""Alembic glue: find the shipped migrations, read the database's revision, upgrade it.

The migrations folder is located with :func:`jobrunner.resources.data_dir`, so this works from a
checkout and from an installed wheel alike. Upgrades run inside one write transaction that also
serialises concurrent migrators (several workers starting on a new database): the first upgrades,
the others wait, see the new revision and do nothing.

Alembic is imported only when a migration is due (or asked about): opening a database that is
already at :data:`HEAD_REVISION` is one read of ``alembic_version``, which keeps every command's
start-up free of alembic's import cost.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from jobrunner.errors import MigrationError
from jobrunner.redact import redact_db_url
from jobrunner.resources import data_dir
from jobrunner.store.engine import begin_read, begin_write, lock_for_migration

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

HEAD_REVISION: Final = "0005"
"""The newest migration in ``migrations/versions`` (a test holds it to alembic's head)."""

_VERSION_TABLE: Final = "alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic configuration for the shipped migrations (no ``alembic.ini`` needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(data_dir("migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this jobrunner knows."""
    head = _scripts().get_current_head()
    if head is None:
        raise MigrationError("no migrations found in this installation")
    return head


def _revision(conn: Connection) -> str | None:
    """What alembic's ``get_current_revision`` answers, read without importing alembic."""
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise MigrationError(f"database has several schema heads ({', '.join(rows)})")
    return rows[0] if rows else None


def current_revision(engine: Engine) -> str | None:
    """The database's revision; ``None`` for a database that was never migrated."""
    with begin_read(engine) as conn:
        return _revision(conn)


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    from alembic.util.exc import CommandError

    try:
        known = _scripts().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise MigrationError(
            f"database schema is at revision {revision}, unknown to this jobrunner "
            f"(newest known: {head_revision()}); upgrade jobrunner"
        )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the head revision. Returns (revision before, revision after)."""
    from alembic import command
    from alembic.util.exc import CommandError

    head = head_revision()
    with begin_write(engine) as conn:
        lock_for_migration(conn)
        before = _revision(conn)
        _check_known(before)
        if before != head:
            log.info("migrating database from %s to %s", before or "empty", head)
            try:
                command.upgrade(alembic_config(conn), "head")
            except CommandError as exc:
                raise MigrationError(f"migration failed: {exc}") from exc
    return before, head


def check_current(engine: Engine) -> None:
    """Refuse a database whose schema is not at this jobrunner's head (nothing is changed)."""
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return
    head = head_revision()
    _check_known(current)
    where = redact_db_url(engine.url)
    if current is None:
        raise MigrationError(
            f"database {where} has no jobrunner schema yet: run `jobrunner db upgrade`"
        )
    raise MigrationError(
        f"database {where} is at schema revision {current}, this jobrunner needs {head}: "
        "run `jobrunner db upgrade`"
    )


def ensure_current(engine: Engine) -> None:
    """Apply pending migrations; a cheap read when the database is already current."""
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return
    _check_known(current)
    upgrade(engine)
