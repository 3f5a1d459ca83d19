"""The report page in headless Chromium, as a person opens it: it loads offline with no error,
shows the figures ``status --json`` shows, draws each file's turns, and sorts its table.

Screenshots land in ``tests/report/output/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import reportkit
from conftest import ToneRun
from pagekit import OUTPUT, PageCheck, check_sorting, check_summary, report, status, turn_counts

from jobrunner.store import Store


def test_the_page_of_a_real_run_works_offline(
    tone_run: ToneRun, browser: Any, tmp_path: Path
) -> None:
    html = report(tone_run.db_url, tmp_path / "report.html")
    check = PageCheck(browser, html)
    try:
        assert check.errors == []
        assert check.fetched_elsewhere() == []
        check_summary(check, status(tone_run.db_url))

        turns = turn_counts(tone_run.db_url)
        assert sorted(turns.values()) == sorted([0] + [len(t) for t in tone_run.turns.values()])
        for job_id, count in turns.items():
            assert check.open_file(job_id) == count, job_id

        # hovering a turn shows its transcript
        booking = next(j for j, n in turns.items() if n == 3)
        check.open_file(booking)
        check.page.hover("#timeline g.turn:nth-child(2)")
        assert "Around seven thirty." in check.page.inner_text("#turn-detail")

        check_sorting(check, 3, "turns")
        names = check.column(0)
        check.page.click("#file-table thead th:nth-child(1)")
        assert check.column(0) == sorted(names, key=str.lower)

        check.page.fill("#file-filter", "weather")
        assert check.column(0) == ["weather.wav"]
        assert check.page.inner_text("#file-count") == "1 of 5 files"
        check.page.fill("#file-filter", "")
        check.page.select_option("#state-filter", "invalid")
        assert check.column(0) == ["broken.wav"]
        check.page.select_option("#state-filter", "")

        OUTPUT.mkdir(exist_ok=True)
        check.page.screenshot(path=str(OUTPUT / "report.png"), full_page=True)
        assert check.errors == []
    finally:
        check.close()


def test_the_page_of_a_thousand_files_works(
    thousand: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    db_url, refs = thousand
    html = report(db_url, tmp_path / "report.html", "--references", str(refs))
    check = PageCheck(browser, html)
    try:
        assert check.errors == []
        assert check.fetched_elsewhere() == []
        check_summary(check, status(db_url))
        assert len(check.column(0)) == 1000

        turns = turn_counts(db_url)
        busiest = max(turns, key=lambda j: (turns[j], -j))
        assert check.open_file(busiest) == turns[busiest]
        # a mapped file draws its speech segments too
        assert check.page.eval_on_selector_all("#timeline rect.seg", "s => s.length") > 0

        check_sorting(check, 4, "WER")
        check_sorting(check, 5, "p90 end latency")
        OUTPUT.mkdir(exist_ok=True)
        check.page.screenshot(path=str(OUTPUT / "report-1000.png"))
        assert check.errors == []
    finally:
        check.close()


@pytest.fixture(scope="module")
def three_hours(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """One synthetic file of about three hours (2,300 turns)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('long') / 'jobs.db'}"
    with Store.open(url) as store:
        made = reportkit.fill(store, 1, turns=(2300, 2300), seed=3)
    return url, made.turns


def test_a_three_hour_timeline_scrolls_at_a_readable_scale(
    three_hours: tuple[str, int], browser: Any, tmp_path: Path
) -> None:
    url, turns = three_hours
    check = PageCheck(browser, report(url, tmp_path / "report.html"))
    try:
        [job_id] = turn_counts(url)
        assert check.open_file(job_id) == turns
        duration = check.page.eval_on_selector_all("#timeline", "t => +t[0].getAttribute('width')")
        box = check.page.eval_on_selector_all(
            "#timeline-scroll", "b => [b[0].clientWidth, b[0].scrollWidth]"
        )
        # 10 px per second: a turn of a few seconds is tens of pixels wide, the file scrolls
        assert check.page.inner_text("#timeline-scale") == "10 px/s"
        assert duration > 3 * 3600 * 10 and box[1] > 50 * box[0]
        check.page.click("#timeline-overview", position={"x": 600, "y": 10})
        assert check.page.eval_on_selector_all("#timeline-scroll", "b => b[0].scrollLeft") > 0
        check.page.click("[data-zoom=fit]")
        width = check.page.eval_on_selector_all("#timeline", "t => +t[0].getAttribute('width')")
        assert width <= box[0]
        assert check.errors == []
    finally:
        check.close()
