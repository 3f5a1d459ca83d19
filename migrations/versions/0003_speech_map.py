"""The speech map: one per content, true turn times and latencies, the coverage verdict.

``speech_maps`` holds a file's map (JSON of :class:`jobrunner.audio.speechmap.SpeechMap`) keyed
by content hash, channel mode and detector identity, so a re-enqueue of the same audio reuses it
and a new detector version computes a new one. Turns get their aligned speech times and the
three latencies; jobs get the coverage verdict and the uncovered seconds (NULL: no map).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TURN_FIELDS = (
    "speech_start_s",
    "speech_end_s",
    "start_latency_s",
    "end_latency_s",
    "eager_latency_s",
)


def upgrade() -> None:
    op.create_table(
        "speech_maps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("detector", sa.String(length=200), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("speech_s", sa.Float(), nullable=False),
        sa.Column("map", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256", "mode", "detector"),
    )
    for name in _TURN_FIELDS:
        op.add_column("turns", sa.Column(name, sa.Float(), nullable=True))
    op.add_column("jobs", sa.Column("coverage", sa.String(length=16), nullable=True))
    op.add_column("jobs", sa.Column("uncovered_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("uncovered_s")
        batch.drop_column("coverage")
    with op.batch_alter_table("turns") as batch:
        for name in _TURN_FIELDS:
            batch.drop_column(name)
    op.drop_table("speech_maps")
