"""``jobrunner db``: schema migrations by hand (the store also applies them on first use)."""

from __future__ import annotations

import click

from jobrunner.cli import AppContext
from jobrunner.redact import redact_db_url
from jobrunner.store import Store, database_exists, head_revision


@click.group("db")
def db_command() -> None:
    """Database schema: show the revision or upgrade it.

    \b
    Examples:
      jobrunner db current
      jobrunner --db postgresql+psycopg://user@host/jobs db upgrade
    """


@db_command.command("upgrade")
@click.pass_obj
def upgrade_command(app: AppContext) -> None:
    """Apply pending migrations (creates the database's tables when new).

    A SQLite database is also upgraded on first use; a PostgreSQL database, shared by
    workers on many machines, only by this command: run it once after creating the
    database and after upgrading jobrunner (workers refuse a schema that is behind).
    Concurrent runs are safe: the first migrates, the others find it done.

    \b
    Examples:
      jobrunner db upgrade
      JOBRUNNER_DB=sqlite:///queue.db jobrunner db upgrade
      jobrunner --db postgresql+psycopg://jobrunner@db.internal/jobs db upgrade
    """
    url = app.settings().db_url
    with Store.open(url, migrate_schema=False) as store:
        before, after = store.upgrade()
    if before == after:
        click.echo(f"{redact_db_url(url)}: already at revision {after}")
    else:
        click.echo(f"{redact_db_url(url)}: upgraded from {before or 'empty'} to {after}")


@db_command.command("current")
@click.pass_obj
def current_command(app: AppContext) -> None:
    """Show the database's schema revision and the newest one this jobrunner knows.

    \b
    Examples:
      jobrunner db current
    """
    url = app.settings().db_url
    head = head_revision()
    if not database_exists(url):
        click.echo(f"{redact_db_url(url)}: no database yet (head {head}; created on first use)")
        return
    with Store.open(url, migrate_schema=False) as store:
        current = store.revision()
    state = "up to date" if current == head else "behind: run `jobrunner db upgrade`"
    click.echo(f"{redact_db_url(url)}: revision {current or 'none'} (head {head}, {state})")
