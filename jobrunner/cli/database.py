"""The job queue a command works on. Only ``enqueue`` and ``db upgrade`` create one: every other
command on a queue that does not exist says so, instead of creating an empty database and
reporting "0 jobs" to a user who is in the wrong folder."""

from __future__ import annotations

from pathlib import Path

from jobrunner.errors import UsageError
from jobrunner.redact import redact_db_url
from jobrunner.store import Store, database_exists, database_file


def open_queue(url: str) -> Store:
    """The store at ``url``, which must exist (a PostgreSQL database always "exists": its
    server says whether it is reachable and upgraded)."""
    if not database_exists(url):
        raise UsageError(no_queue_message(url))
    return Store.open(url)


def no_queue_message(url: str) -> str:
    database = database_file(url)
    where = f" (no file {Path(database).expanduser().resolve()})" if database else ""
    return (
        f"no job queue at {redact_db_url(url)}{where}: `jobrunner enqueue PATH...` creates one; "
        "choose another with --db URL or JOBRUNNER_DB"
    )
