"""Fixtures shared by every test area.

The store contract runs on every backend in ``STORE_BACKENDS``: SQLite files, and a real
PostgreSQL server that this test session starts itself (``pg.Cluster``: initdb + pg_ctl in a
temporary folder, torn down at the end). PostgreSQL tests carry the ``postgres`` marker
(``pytest -m "not postgres"`` leaves them out) and skip only when no server binaries exist;
with ``JOBRUNNER_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Serve
from pg import MISSING_REASON, Cluster, find_bindir

from jobrunner.config import Secret
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.faults import parse_faults
from jobrunner.store import Store

#: database backends the store contract tests run against
STORE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

_TEMPLATE = "jobrunner_template"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the whole session (started on first use)."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("JOBRUNNER_REQUIRE_POSTGRES"):  # CI: never skip silently
            pytest.fail(MISSING_REASON)
        pytest.skip(MISSING_REASON)
    cluster = Cluster.start(bindir)
    try:
        # a migrated template: a new test database is a file copy, not a migration run
        cluster.create_database(name=_TEMPLATE)
        with Store.open(cluster.url(_TEMPLATE), migrate_schema=True):
            pass
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: Cluster) -> Iterator[str]:
    """URL of a fresh PostgreSQL database already at the schema head (as after
    ``jobrunner db upgrade``), dropped after the test."""
    name = pg_cluster.create_database(template=_TEMPLATE)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def pg_empty_database(pg_cluster: Cluster) -> Iterator[str]:
    """URL of a fresh PostgreSQL database with no tables at all, dropped after the test."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh database for one test, ready for ``Store.open``: a new SQLite file (the
    store migrates it on first use) or a new PostgreSQL database already upgraded (PostgreSQL is
    never migrated implicitly: that is ``jobrunner db upgrade``'s job)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture(params=STORE_BACKENDS)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a database that exists (PostgreSQL) or not (SQLite) but has no schema yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("pg_empty_database")
    return url


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a bundled LocalServer (overload check off unless asked); stopped at teardown."""
    started: list[LocalServer] = []

    def start(**options: Any) -> LocalServer:
        options.setdefault("port", 0)
        options.setdefault("max_rate", 0.0)
        if isinstance(options.get("api_key"), str):
            options["api_key"] = Secret(options["api_key"])
        if isinstance(options.get("faults"), str):
            options["faults"] = parse_faults(options["faults"])
        server = LocalServer(ServerConfig(**options)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
