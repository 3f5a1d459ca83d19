"""Fixtures of the client tests: the bundled local server and tone files with known text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clientkit import TURNS

from jobrunner.config import Secret
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.faults import parse_faults
from jobrunner.server.tones import write_wav


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
def tone_wav(tmp_path: Path) -> Path:
    """A 16 kHz PCM_16 WAV whose tones-engine transcript is :data:`EXPECTED`."""
    return write_wav(tmp_path / "call.wav", TURNS)
