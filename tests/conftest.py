"""Fixtures shared by every test area."""

from __future__ import annotations

from pathlib import Path

import pytest

#: database backends the store contract tests run against; a PostgreSQL parameter joins later
STORE_BACKENDS = ["sqlite"]


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty database for one test (the store migrates it on first use)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    raise NotImplementedError(request.param)
