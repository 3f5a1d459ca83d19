"""Endpoints: which of the three a job and an attempt used, words per turn, what Batch reports.

``jobs.endpoint`` and ``attempts.endpoint`` are ``auto``, ``manual`` or ``batch`` (NULL: a row
from before endpoints existed, i.e. Auto). ``turns.words`` holds a turn's word timings as JSON
(a list of ``{"word", "start", "end"}``; NULL where the endpoint gave none: Auto).
``transcripts.language`` and ``transcripts.duration_s`` are what a Manual or Batch answer
reported (NULL otherwise).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("endpoint", sa.String(length=16), nullable=True))
    op.add_column("attempts", sa.Column("endpoint", sa.String(length=16), nullable=True))
    op.add_column("turns", sa.Column("words", sa.JSON(), nullable=True))
    op.add_column("transcripts", sa.Column("language", sa.String(length=32), nullable=True))
    op.add_column("transcripts", sa.Column("duration_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("duration_s")
        batch.drop_column("language")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("words")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("endpoint")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("endpoint")
