"""A PostgreSQL that goes silent cannot hang a worker: every store session has a statement
timeout and TCP keepalives, and the URL's own settings win."""

from __future__ import annotations

from typing import Any

import pytest
from storekit import new_job

from jobrunner.errors import StoreError
from jobrunner.store import Selector, Store


def session(store: Store) -> tuple[str, dict[str, str]]:
    """The session's statement timeout and the libpq parameters it connected with."""
    with store.engine.connect() as conn:
        timeout = conn.exec_driver_sql("SHOW statement_timeout").scalar_one()
        dbapi: Any = conn.connection.dbapi_connection
        params = {o.keyword.decode(): (o.val or b"").decode() for o in dbapi.pgconn.info}
    return timeout, params


@pytest.mark.postgres
def test_store_sessions_have_a_statement_timeout_and_keepalives(pg_database: str) -> None:
    with Store.open(pg_database) as store:
        timeout, params = session(store)
    assert timeout == "30s"
    assert [params[k] for k in ("keepalives", "keepalives_idle", "keepalives_interval")] == [
        "1",
        "30",
        "10",
    ]
    assert (params["keepalives_count"], params["tcp_user_timeout"]) == ("3", "60000")


@pytest.mark.postgres
def test_the_urls_own_settings_win_and_a_stuck_statement_is_cancelled(pg_database: str) -> None:
    url = f"{pg_database}?options=-c%20statement_timeout%3D150ms&keepalives_idle=7"
    with Store.open(url) as store:
        timeout, params = session(store)
        assert (timeout, params["keepalives_idle"], params["keepalives_count"]) == (
            "150ms",
            "7",
            "3",
        )
        [job] = store.enqueue_many([new_job(1)])
        with store.engine.connect() as other, other.begin():
            other.exec_driver_sql("SELECT id FROM jobs FOR UPDATE")  # a stuck lock holder
            with pytest.raises(StoreError, match="statement timeout"):
                store.cancel(Selector(ids=(job.job_id,)))
