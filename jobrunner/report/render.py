"""The report as one self-contained HTML page (a jinja2 template) or as JSON; written atomically.

Plotting is a small script of our own that draws SVG in the page from the report's embedded
JSON, chosen over plotly (a 3.5 MB bundle per page) and vega-lite (about 1 MB, and a chart
object per file) because a report of 10,000 files must stay a file one can mail and open at
once: the page carries only data, the script draws the charts, and draws a file's timeline only
when it is opened. The page loads nothing: a Content-Security-Policy forbids every fetch, so it
reads the same offline as online.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, TextIO

import jinja2

from jobrunner.export.output import atomic_file
from jobrunner.formatting import format_duration
from jobrunner.report.build import Report, dumps
from jobrunner.report.summary import ENDPOINT_PATHS

#: rows of path lists, and of the accuracy table (worst first); the JSON has all of them
SHOWN_ROWS: Final = 50
WORST_ROWS: Final = 20


def _or_dash(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    def apply(value: Any) -> str:
        return "–" if value is None else fmt(value)

    return apply


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)


FILTERS: Final[dict[str, Callable[[Any], str]]] = {
    "hours": _or_dash(lambda s: f"{s / 3600:.2f} h"),
    "duration": _or_dash(_duration),
    "pct": _or_dash(lambda x: f"{100 * x:.1f} %"),
    "secs": _or_dash(lambda x: f"{x:.2f} s"),
    "num": _or_dash(lambda x: f"{x:,}"),
    "ratio": _or_dash(lambda x: f"{x:.2f}"),
}


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jobrunner.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def _asset(name: str) -> str:
    return (files("jobrunner.report") / "templates" / name).read_text(encoding="utf-8")


def embedded_json(text: str) -> str:
    """JSON text made safe inside ``<script type="application/json">``: no ``<`` survives
    (``\\u003c`` reads the same to a JSON parser), so no transcript can close the element."""
    return text.replace("<", "\\u003c")


def render_html(report: Report) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report,
        shown=SHOWN_ROWS,
        worst=WORST_ROWS,
        endpoint_paths=ENDPOINT_PATHS,
        data_json=embedded_json(dumps(report, compact=True)),
        style=_asset("report.css"),
        scripts=[_asset("charts.js"), _asset("report.js")],
    )


def render_json(report: Report) -> str:
    return dumps(report)


def write(report: Report, output: Path | None, *, as_json: bool) -> Path | None:
    """Write the report to ``output`` (``None``: stdout) as HTML or JSON; returns the path."""
    text = render_json(report) + "\n" if as_json else render_html(report)
    if output is None:
        stream: TextIO = sys.stdout
        stream.write(text)
        stream.flush()
        return None
    with atomic_file(output) as f:
        f.write(text)
    return output


__all__ = ["embedded_json", "render_html", "render_json", "write"]
