"""Reliability: the file's mtime at enqueue (content re-check) and how each turn ended.

``jobs.mtime_ns`` joins ``size_bytes`` so a run can tell a file that changed since it was
enqueued (a recorder rotating segments under one name) before it streams it; rows enqueued
before this revision have NULL and skip that part of the check. ``turns.ended_by`` is
``turn.end``, or ``close`` for a turn the server's normal close cut off, whose text is its last
update (existing turns all ended with ``turn.end``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("mtime_ns", sa.BigInteger(), nullable=True))
    op.add_column(
        "turns",
        sa.Column("ended_by", sa.String(length=16), nullable=False, server_default="turn.end"),
    )


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("ended_by")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("mtime_ns")
