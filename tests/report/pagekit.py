"""Browser helpers of the report tests: a report page open in headless Chromium, and the checks
every real report must pass (see ``test_report_browser.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import invoke

#: screenshots for people to look at (git-ignored)
OUTPUT = Path(__file__).resolve().parent / "output"


class PageCheck:
    """A report page open in headless Chromium, with what it logged and fetched."""

    def __init__(self, browser: Any, html: Any, *, width: int = 1280, height: int = 900) -> None:
        self.url = html.resolve().as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(self.url)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def close(self) -> None:
        self.page.close()

    def fetched_elsewhere(self) -> list[str]:
        """Every request but the page itself: must be none."""
        return [url for url in self.requests if url != self.url]

    def column(self, index: int) -> list[str]:
        """The sort values (``data-v``) of one column of the files table, top to bottom."""
        values: list[str] = self.page.eval_on_selector_all(
            "#file-table tbody tr:not([hidden])",
            f"rows => rows.map(r => r.cells[{index}].dataset.v)",
        )
        return values

    def summary_states(self) -> dict[str, tuple[int, float]]:
        rows = self.page.eval_on_selector_all(
            "#states tr[data-state]",
            "rows => rows.map(r => [r.dataset.state, +r.dataset.jobs, +r.dataset.audioS])",
        )
        return {state: (jobs, audio) for state, jobs, audio in rows}

    def open_file(self, job_id: int) -> int:
        """Click the file's row; the number of turn marks its timeline then draws."""
        self.page.click(f'#file-table tbody tr[data-job="{job_id}"]')
        self.page.wait_for_selector(f'#timeline[data-job="{job_id}"]', state="attached")
        count: int = self.page.eval_on_selector_all("#timeline g.turn", "marks => marks.length")
        return count


def report(db_url: str, out: Path, *args: str) -> Path:
    result = invoke(db_url, "report", "-o", str(out), *args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr
    return out


def status(db_url: str) -> dict[str, Any]:
    result = invoke(db_url, "status", "--json")
    assert result.exit_code == 0, result.output
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def turn_counts(db_url: str) -> dict[int, int]:
    """Turns per job id, as ``jobrunner export`` gives them."""
    result = invoke(db_url, "export", "-o", "-")
    assert result.exit_code == 0, result.output
    jobs = [json.loads(line) for line in result.stdout.splitlines()]
    return {job["job_id"]: len(job["turns"]) for job in jobs}


def check_summary(check: PageCheck, status: dict[str, Any]) -> None:
    shown = check.summary_states()
    assert set(shown) == set(status["states"])
    for state, figures in status["states"].items():
        jobs, audio_s = shown[state]
        assert jobs == figures["jobs"], state
        assert audio_s == pytest.approx(figures["audio_s"]), state
    total = check.page.get_attribute("#total-jobs", "data-value")
    assert total is not None and int(total) == status["total_jobs"]


def check_sorting(check: PageCheck, column: int, header: str) -> None:
    check.page.click(f"#file-table thead th:nth-child({column + 1})")
    assert check.page.get_attribute(f"#file-table th:nth-child({column + 1})", "aria-sort") == (
        "ascending"
    )
    values = [float(v) for v in check.column(column) if v != ""]
    assert values == sorted(values) and len(set(values)) > 1, header
    check.page.click(f"#file-table thead th:nth-child({column + 1})")
    values = [float(v) for v in check.column(column) if v != ""]
    assert values == sorted(values, reverse=True), header
