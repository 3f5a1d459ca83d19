"""Fixtures of the worker tests: a local server, a SQLite store, tone files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobrunner.config import Secret
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.faults import parse_faults
from jobrunner.store import Store


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    """Start a LocalServer (overload check off unless asked); stopped at teardown."""
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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as s:
        yield s
