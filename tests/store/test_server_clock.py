"""Machines sharing a PostgreSQL queue judge leases by the database server's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobrunner.store import Store, utcnow
from jobrunner.store.engine import clock_offset


@pytest.mark.postgres
def test_a_machine_an_hour_slow_measures_the_servers_clock_an_hour_ahead(pg_database: str) -> None:
    with Store.open(pg_database) as store:
        offset = clock_offset(store.engine, lambda: utcnow() - timedelta(hours=1))
    assert abs(offset - timedelta(hours=1)) < timedelta(seconds=1)
