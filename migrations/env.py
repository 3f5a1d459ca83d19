"""Alembic environment: runs the migrations on the connection jobrunner passes in.

``jobrunner.store.migrate`` opens a write transaction (holding the SQLite write lock or a
PostgreSQL advisory lock) and passes its connection in ``config.attributes["connection"]``; the
migrations join that transaction. Offline mode (``--sql``) renders SQL for ``sqlalchemy.url``.
Batch mode is on so that table alterations work on SQLite.
"""

from __future__ import annotations

from alembic import context

from jobrunner.store.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `jobrunner db upgrade` (no connection given)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
