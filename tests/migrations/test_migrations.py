"""The alembic migrations: they build exactly the models' schema, and they apply themselves
safely when several processes meet a new database at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jobrunner.errors import MigrationError
from jobrunner.store import Store, migrate
from jobrunner.store.engine import begin_write
from jobrunner.store.migrate import alembic_config, head_revision
from jobrunner.store.schema import metadata

OPENER = Path(__file__).with_name("open_store.py")


def test_migrations_produce_exactly_the_models_schema(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.revision() == head_revision()
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
    assert tables == {"alembic_version", "jobs", "attempts", "turns", "transcripts", "speech_maps"}


def test_downgrade_to_base_and_back(store_url: str) -> None:
    with Store.open(store_url) as store:
        with begin_write(store.engine) as conn:
            command.downgrade(alembic_config(conn), "base")
        assert store.revision() is None
        with store.engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == {"alembic_version"}
        assert store.upgrade() == (None, head_revision())
        assert store.count() == 0


def test_a_database_from_a_newer_jobrunner_is_refused(store_url: str) -> None:
    with Store.open(store_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    with pytest.raises(MigrationError, match="ffff9999, unknown to this jobrunner"):
        Store.open(store_url)


@pytest.mark.slow
def test_processes_meeting_a_new_database_migrate_it_once(empty_store_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, str(OPENER), empty_store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == head_revision()


def test_the_head_constant_is_the_newest_migration() -> None:
    assert migrate.HEAD_REVISION == migrate.head_revision()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with Store.open(url):  # created and migrated here
        pass
    probe = (
        "import sys; from jobrunner.store import Store\n"
        f"with Store.open({url!r}) as store: store.status()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
