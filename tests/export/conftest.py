"""Export fixtures: a real store on ``store_url``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobrunner.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as s:
        yield s
