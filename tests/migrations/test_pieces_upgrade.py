"""Migration 0004 (pieces) upgrades a 0003 database in place: jobs queued before it run
unchanged, as single pieces."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from jobrunner.store import Store, make_owner
from jobrunner.store.engine import begin_write, create_engine
from jobrunner.store.migrate import alembic_config, head_revision


def test_a_0003_queue_upgrades_and_its_jobs_run_as_single_pieces(empty_store_url: str) -> None:
    engine = create_engine(empty_store_url)
    try:
        with begin_write(engine) as conn:
            command.upgrade(alembic_config(conn), "0003")
        with engine.begin() as conn:
            for i, seconds in enumerate([30.0, 90.0]):
                conn.execute(
                    sa.text(
                        "INSERT INTO jobs (path, sha256, format, subtype, sample_rate, channels,"
                        " frames, duration_s, idempotency_key, fingerprint, settings, status,"
                        " priority, attempts, attempt_base, max_attempts, run_after, created_at,"
                        " updated_at) VALUES (:path, :sha, 'WAV', 'PCM_16', 16000, 1, :frames,"
                        " :seconds, :key, 'fp', '{}', 'queued', 0, 0, 0, 3, :t, :t, :t)"
                    ),
                    {
                        "path": f"/audio/{i}.wav",
                        "sha": f"{i:064x}",
                        "frames": int(seconds * 16000),
                        "seconds": seconds,
                        "key": f"{i:064x}:fp",
                        "t": "2026-01-01 00:00:00+00:00",
                    },
                )
    finally:
        engine.dispose()
    with Store.open(empty_store_url, migrate_schema=True) as store:
        assert store.revision() == head_revision()
        claimed = store.claim(5, make_owner(), 60.0)
        # longest first (work_s filled from duration_s), each the whole file
        assert [c.duration_s for c in claimed] == [90.0, 30.0]
        assert all(c.whole and c.parent_id is None for c in claimed)
        assert store.count() == 2
