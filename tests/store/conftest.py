"""Store fixtures: a store on ``store_url`` driven by a hand-cranked clock (no sleeps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from storekit import Clock

from jobrunner.store import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[Store]:
    with Store.open(store_url, now=clock) as s:
        yield s


@pytest.fixture
def other_store(store_url: str, clock: Clock) -> Iterator[Store]:
    """A second, independent store on the same database (another worker process's view)."""
    with Store.open(store_url, now=clock) as s:
        yield s
