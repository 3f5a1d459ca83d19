"""The database schema as SQLAlchemy Core metadata: the one source the migrations must match.

A test compares ``migrations/`` against this metadata (alembic autogenerate finds no diff), so a
change here needs a new migration. Constraint names come from the naming convention, which
alembic's batch mode on SQLite needs to find constraints again when it rebuilds a table.

Timestamps go through :class:`UTCDateTime`: SQLite keeps no offset, so every value is converted
to UTC on the way in (a naive datetime is refused, it would be ambiguous) and marked UTC on the
way out. Lease comparisons in SQL then compare like with like on every database.

Columns named ``*_audio_s`` hold seconds of audio sent when the event arrived; ``*_wall_s`` hold
monotonic seconds from the session start (see ``records.TurnRow``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from jobrunner.store.records import STATES

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused (it would be ambiguous)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_states_sql = ", ".join(f"'{s.value}'" for s in STATES)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", Text, nullable=False),
    Column("sha256", String(64)),
    Column("size_bytes", BigInteger),
    # st_mtime_ns at enqueue: with size and frames, tells a file changed since (NULL: not known)
    Column("mtime_ns", BigInteger),
    Column("format", String(32)),
    Column("subtype", String(32)),
    Column("sample_rate", Integer),
    Column("channels", Integer),
    Column("frames", BigInteger),
    Column("duration_s", Float),
    Column("label", String(200)),
    # content sha256 + settings fingerprint (or the path, for files that have no content)
    Column("idempotency_key", String(128), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    # the settings that change the result (Settings.result_settings()), needed to stream
    Column("settings", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    # every attempt ever made (also the number of the current one); never decreases except on
    # a graceful release, so attempt numbers stay unique
    Column("attempts", Integer, nullable=False),
    # ``attempts`` when the current budget began (a requeue gives a fresh budget)
    Column("attempt_base", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", UTCDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("last_error", Text),
    Column("error_kind", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # the coverage check (timing.coverage): "covered"/"uncovered", NULL without a speech map
    Column("coverage", String(16)),
    Column("uncovered_s", Float),
    # pieces (jobrunner.pieces): a piece is a child row of the job it was split from, over
    # frames [start_frame, end_frame) of one source channel (NULL: the whole file, and the
    # downmix policy of the settings); a split parent counts its pieces
    Column("parent_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE")),
    Column("piece_index", Integer),
    Column("start_frame", BigInteger),
    Column("end_frame", BigInteger),
    Column("source_channel", Integer),
    Column("pieces", Integer, nullable=False, server_default="0"),
    # seconds of audio this row streams: claimed longest first within a priority
    Column("work_s", Float),
    # "auto", "manual" or "batch" (Settings.endpoint as enqueued); NULL: from before endpoints
    Column("endpoint", String(16)),
    UniqueConstraint("idempotency_key"),
    CheckConstraint(f"status IN ({_states_sql})", name="status"),
    Index("ix_jobs_claim", "status", "priority", "work_s", "id"),
    Index("ix_jobs_lease", "status", "lease_expires_at"),
    Index(None, "label"),
    Index(None, "path"),
    Index(None, "parent_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("channel", Integer, nullable=False),
    Column("worker", String(200)),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("outcome", String(16), nullable=False),
    Column("error_kind", String(64)),
    Column("error_message", Text),
    Column("http_status", Integer),
    Column("close_code", Integer),
    Column("request_id", String(64)),
    Column("audio_seconds_sent", Float),
    Column("encoding", String(16)),
    Column("sample_rate", Integer),
    Column("channel_policy", String(16)),
    Column("send_rate_mean", Float),
    Column("send_max_lead_s", Float),
    Column("send_p99_lateness_s", Float),
    Column("connect_s", Float),
    Column("drain_s", Float),
    Column("endpoint", String(16)),
    Index(None, "job_id", "number"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_id", Integer, ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", Integer, nullable=False),
    Column("turn_index", Integer, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("start_audio_s", Float),
    Column("first_update_audio_s", Float),
    Column("eager_end_audio_s", Float),
    Column("end_audio_s", Float),
    Column("updates", Integer, nullable=False),
    Column("eager_ends", Integer, nullable=False),
    Column("resumes", Integer, nullable=False),
    Column("start_wall_s", Float),
    Column("end_wall_s", Float),
    # "turn.end", or "close": the server's normal close cut the turn off (text = last update)
    Column("ended_by", String(16), nullable=False, server_default="turn.end"),
    # aligned with the speech map (timing.align); NULL where the map cannot say
    Column("speech_start_s", Float),
    Column("speech_end_s", Float),
    Column("start_latency_s", Float),
    Column("end_latency_s", Float),
    Column("eager_latency_s", Float),
    # [{"word", "start", "end"}, ...] in file seconds (Manual, Batch); NULL: none (Auto)
    Column("words", JSON),
    # one row per turn of a job's current transcript; also the keyset order of exports
    UniqueConstraint("job_id", "channel", "turn_index"),
    Index(None, "attempt_id"),
)

transcripts = Table(
    "transcripts",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("attempt_id", Integer, ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_number", Integer, nullable=False),
    # the turn.end transcripts concatenated verbatim
    Column("text", Text, nullable=False),
    Column("turn_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # what a Manual or Batch answer reported; NULL otherwise
    Column("language", String(32)),
    Column("duration_s", Float),
)

speech_maps = Table(
    "speech_maps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # one map per content, channel mode and detector identity (audio.vad.detector_id)
    Column("sha256", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("detector", String(200), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("speech_s", Float, nullable=False),
    # SpeechMap.to_json()
    Column("map", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("sha256", "mode", "detector"),
)
