"""The one helpers module of the test suite (pytest puts ``tests/`` on ``sys.path``).

Shared by every test area: the type of the ``serve`` fixture, the CLI wrapper and the settings of
a quick run against the bundled server. Area-specific helpers (``workerkit``, ``clientkit``,
``storekit``, ...) build on these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any

from click.testing import CliRunner, Result

from jobrunner.cli import cli
from jobrunner.config import Settings
from jobrunner.server import LocalServer

#: the ``serve`` fixture (tests/conftest.py): start a LocalServer with ServerConfig options
Serve = Callable[..., LocalServer]


def db_arg(db: str | PathLike[str]) -> str:
    """A database URL from a URL or a SQLite file path."""
    text = str(db)
    return text if "://" in text else f"sqlite:///{text}"


def invoke(
    db: str | PathLike[str] | None,
    *args: str,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    catch_exceptions: bool = True,
) -> Result:
    """``jobrunner [--db DB] ARGS...`` in-process, as a user types it."""
    argv = (["--db", db_arg(db)] if db is not None else []) + list(args)
    return CliRunner().invoke(
        cli, argv, input=input, env=dict(env or {}), catch_exceptions=catch_exceptions
    )


def fast_settings(
    server: LocalServer | None = None, db_url: str | None = None, **changes: Any
) -> Settings:
    """Settings for a quick run against ``server``: pace 20, a short lease TTL, tiny backoffs and
    short timeouts, so failures and retries take milliseconds, not minutes."""
    values: dict[str, Any] = {
        "base_url": server.url if server is not None else "http://127.0.0.1:9",
        "pace": 20.0,
        "concurrency": 8,
        "max_attempts": 5,
        "lease_ttl_s": 3.0,
        "grace_seconds": 5.0,
        "connect_tries": 4,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "requeue_base_s": 0.02,
        "requeue_cap_s": 0.1,
        "open_timeout_s": 5.0,
        "stall_timeout_s": 2.0,
        "drain_timeout_s": 4.0,
    }
    if db_url is not None:
        values["db_url"] = db_url
    values.update(changes)
    return Settings(**values)
