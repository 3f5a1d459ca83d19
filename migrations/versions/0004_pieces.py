"""Pieces: a job split into child rows, each one session over one time range and channel.

``jobs.parent_id`` (NULL for a top-level job), ``piece_index``, ``start_frame``/``end_frame``
(NULL: the whole file), ``source_channel`` (NULL: the downmix policy), ``pieces`` (the number
of pieces of a split parent, 0 otherwise) and ``work_s`` (the audio seconds a row streams, for
longest-first claiming: the claim index becomes ``(status, priority, work_s, id)``). Jobs
already in the database are top-level single pieces: ``work_s`` is their duration, so jobs
queued before the upgrade run unchanged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("piece_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("start_frame", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("end_frame", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("source_channel", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pieces", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("work_s", sa.Float(), nullable=True))
        batch.create_foreign_key(
            "fk_jobs_parent_id_jobs", "jobs", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.drop_index("ix_jobs_claim")
        batch.create_index("ix_jobs_claim", ["status", "priority", "work_s", "id"])
        batch.create_index("ix_jobs_parent_id", ["parent_id"])
    op.execute(sa.text("UPDATE jobs SET work_s = duration_s"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM jobs WHERE parent_id IS NOT NULL"))
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_parent_id")
        batch.drop_index("ix_jobs_claim")
        batch.create_index("ix_jobs_claim", ["status", "priority", "id"])
        batch.drop_constraint("fk_jobs_parent_id_jobs", type_="foreignkey")
        for name in (
            "work_s",
            "pieces",
            "source_channel",
            "end_frame",
            "start_frame",
            "piece_index",
            "parent_id",
        ):
            batch.drop_column(name)
