"""How the library's results read on the command line: the stable JSON documents of
``status``, ``jobs`` and ``enqueue``, their one-line text forms, and table cells.

JSON keys are only ever added, never renamed or removed (scripts parse them); times are ISO 8601
UTC with a ``Z`` (:func:`jobrunner.formatting.iso`); text is exact (JSON escapes what it must).
In text, any value that came from outside (a path, a reason, a host name) goes through
:func:`cell`, so a file named with a line break or a terminal escape cannot break a table or
drive the terminal. The store and the enqueue verb return plain values and know nothing of this.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobrunner.formatting import format_duration, iso
from jobrunner.store import JobView, StatusReport
from jobrunner.timing import Latencies

if TYPE_CHECKING:  # enqueue's package imports the audio probe (soundfile, numpy)
    from jobrunner.enqueue import EnqueueResult, EnqueueSummary

#: control characters (C0, DEL, C1), line/paragraph separators, and lone surrogates
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def cell(text: str) -> str:
    """``text`` on one line, safe for a terminal: control characters as ``\\n``, ``\\x1b``...
    (an undecodable file name byte as ``\\xe9``); everything printable unchanged."""
    return _UNPRINTABLE.sub(_escape, text)


def _jsonable(obj: Any) -> dict[str, Any]:
    """A dataclass as JSON, field by field in declaration order, datetimes as ISO text."""
    out: dict[str, Any] = {}
    for key, value in dataclasses.asdict(obj).items():
        out[key] = iso(value) if isinstance(value, datetime) else value
    return out


def job_json(job: JobView, end_latency: Latencies | None = None) -> dict[str, Any]:
    """One line of ``jobs --json`` (schema in ``jobrunner jobs --help``); ``end_latency``:
    p50/p90 of the job's turns' ``end_latency_s``."""
    data = _jsonable(job)
    latency = end_latency or Latencies()
    data["end_latency_p50_s"] = latency.p50_s
    data["end_latency_p90_s"] = latency.p90_s
    return data


def latency_json(latency: Latencies) -> dict[str, Any]:
    return {"turns": latency.turns, "p50_s": latency.p50_s, "p90_s": latency.p90_s}


def status_json(report: StatusReport) -> dict[str, Any]:
    """The ``status --json`` document (schema in ``jobrunner status --help``)."""
    oldest = report.oldest_queued
    return {
        "schema": "jobrunner.status/1",
        "generated_at": iso(report.generated_at),
        "total_jobs": report.total_jobs,
        "total_audio_s": report.total_audio_s,
        "states": {
            s.state: {"jobs": s.jobs, "audio_s": s.audio_s, "audio_h": s.audio_s / 3600}
            for s in report.states
        },
        "queued_waiting": report.queued_waiting,
        "oldest_queued": None
        if oldest is None
        else {
            "id": oldest.id,
            "path": oldest.path,
            "created_at": iso(oldest.created_at),
            "age_s": (report.generated_at - oldest.created_at).total_seconds(),
        },
        "top_failures": [dataclasses.asdict(f) for f in report.top_failures],
        "workers": [_jsonable(w) for w in report.workers],
        "turns_ended_by_close": report.turns_ended_by_close,
        "end_latency": latency_json(report.end_latency),
        "uncovered": report.uncovered,
        "pieces": {"split_running": report.split_running, "states": dict(report.pieces)},
    }


def enqueue_json(result: EnqueueResult) -> dict[str, Any]:
    """The ``enqueue --json`` document (schema in ``jobrunner enqueue --help``)."""
    summary = dataclasses.asdict(result.summary)
    summary["skipped_by_reason"] = dict(sorted(summary["skipped_by_reason"].items()))
    return {
        "schema": "jobrunner.enqueue/1",
        "summary": summary,
        "files": [dataclasses.asdict(f) for f in result.files],
    }


def enqueue_line(summary: EnqueueSummary) -> str:
    """The one summary line ``enqueue`` ends with."""
    verb = "would enqueue" if summary.dry_run else "enqueued"
    skipped = f"{summary.skipped} skipped"
    if summary.skipped_by_reason:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped_by_reason.items()))
        skipped += f" ({parts})"
    return (
        f"{verb} {summary.new} new ({format_duration(summary.audio_s)} of audio), "
        f"{summary.duplicates} duplicates, {summary.invalid} invalid, {skipped}"
    )
