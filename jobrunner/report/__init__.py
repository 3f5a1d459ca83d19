"""``jobrunner report``: accuracy, turn-detection latency and throughput of a queue as one page.

:func:`build_report` reads the store once (``store.report_queries``) and computes every figure
with pure functions: ``summary``, ``accuracy`` (WER against ``references``), ``speech`` and
``turn_figures`` (latencies and coverage against the speech map), ``files`` (the table and the
timelines), ``health`` (concurrency, sessions, 429s, pacing). ``render`` writes the result as one
self-contained HTML page from ``templates/`` or as JSON, whose data are the same.
"""

from __future__ import annotations

from pathlib import Path

from jobrunner.report.build import SCHEMA, Report, Selection, build_report
from jobrunner.report.render import render_html, render_json, write
from jobrunner.store import Store


def write_report(
    store: Store,
    output: Path,
    *,
    references: Path | None = None,
    label: str | None = None,
) -> Path:
    """Build the HTML report of ``store`` (every job, or those with ``label``) into ``output``."""
    write(build_report(store, label=label, references=references), output, as_json=False)
    return output


__all__ = [
    "SCHEMA",
    "Report",
    "Selection",
    "build_report",
    "render_html",
    "render_json",
    "write",
    "write_report",
]
