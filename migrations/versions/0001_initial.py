"""Initial schema: jobs, attempts, turns, transcripts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("format", sa.String(length=32), nullable=True),
        sa.Column("subtype", sa.String(length=32), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("frames", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_base", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'invalid', 'cancelled')",
            name=op.f("ck_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
    )
    op.create_index("ix_jobs_claim", "jobs", ["status", "priority", "id"], unique=False)
    op.create_index(op.f("ix_jobs_label"), "jobs", ["label"], unique=False)
    op.create_index("ix_jobs_lease", "jobs", ["status", "lease_expires_at"], unique=False)
    op.create_index(op.f("ix_jobs_path"), "jobs", ["path"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("close_code", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("audio_seconds_sent", sa.Float(), nullable=True),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("channel_policy", sa.String(length=16), nullable=True),
        sa.Column("send_rate_mean", sa.Float(), nullable=True),
        sa.Column("send_max_lead_s", sa.Float(), nullable=True),
        sa.Column("send_p99_lateness_s", sa.Float(), nullable=True),
        sa.Column("connect_s", sa.Float(), nullable=True),
        sa.Column("drain_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_attempts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    op.create_index(
        op.f("ix_attempts_job_id_number"), "attempts", ["job_id", "number"], unique=False
    )

    op.create_table(
        "transcripts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_transcripts_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_transcripts_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_transcripts")),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("start_audio_s", sa.Float(), nullable=True),
        sa.Column("first_update_audio_s", sa.Float(), nullable=True),
        sa.Column("eager_end_audio_s", sa.Float(), nullable=True),
        sa.Column("end_audio_s", sa.Float(), nullable=True),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("eager_ends", sa.Integer(), nullable=False),
        sa.Column("resumes", sa.Integer(), nullable=False),
        sa.Column("start_wall_s", sa.Float(), nullable=True),
        sa.Column("end_wall_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_turns_attempt_id_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_turns_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint(
            "job_id", "channel", "turn_index", name=op.f("uq_turns_job_id_channel_turn_index")
        ),
    )
    op.create_index(op.f("ix_turns_attempt_id"), "turns", ["attempt_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_turns_attempt_id"), table_name="turns")

    op.drop_table("turns")
    op.drop_table("transcripts")
    op.drop_index(op.f("ix_attempts_job_id_number"), table_name="attempts")

    op.drop_table("attempts")
    op.drop_index(op.f("ix_jobs_path"), table_name="jobs")
    op.drop_index("ix_jobs_lease", table_name="jobs")
    op.drop_index(op.f("ix_jobs_label"), table_name="jobs")
    op.drop_index("ix_jobs_claim", table_name="jobs")

    op.drop_table("jobs")
