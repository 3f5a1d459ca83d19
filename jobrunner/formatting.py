"""How times and durations read, for people and for JSON: one home for both formats."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with ``Z`` for UTC (the store keeps aware UTC datetimes); ``None`` stays."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def format_duration(seconds: float) -> str:
    """``1:02:03`` style, for humans."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
