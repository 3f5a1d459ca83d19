"""``jobrunner demo`` ends by writing its report, and that page of a real recognizer's run passes
the browser checks, with the accuracy of the samples against their reference texts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import invoke
from pagekit import OUTPUT, PageCheck, check_sorting, check_summary, status, turn_counts

from jobrunner.cli import cli
from jobrunner.demo import SAMPLES_DIR

HAVE_ASR = importlib.util.find_spec("faster_whisper") is not None

pytestmark = [
    pytest.mark.asr,
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_ASR, reason="the asr extra is not installed"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, result


def test_the_demo_ends_with_a_report_that_passes_the_browser_checks(
    demo: tuple[Path, Result], browser: Any
) -> None:
    out, result = demo
    html = out / "report.html"
    [wrote] = [line for line in result.stdout.splitlines() if line.startswith("wrote ")]
    assert wrote.endswith(f", {html}") and html.is_file()

    db_url = f"sqlite:///{out / 'demo.db'}"
    refs = str(SAMPLES_DIR / "texts.tsv")
    data = json.loads(invoke(db_url, "report", "--json", "--references", refs).stdout)
    check = PageCheck(browser, html)
    try:
        assert check.errors == []
        assert check.fetched_elsewhere() == []
        check_summary(check, status(db_url))
        # the samples' reference texts came along: every file has a WER, shown as in --json
        assert check.page.inner_text("#wer") == f"{100 * data['accuracy']['wer']:.1f} %"
        assert len(check.page.query_selector_all("#worst tbody tr")) == 5
        for job_id, count in turn_counts(db_url).items():
            assert check.open_file(job_id) == count, job_id
        check_sorting(check, 4, "WER")
        OUTPUT.mkdir(exist_ok=True)
        check.page.screenshot(path=str(OUTPUT / "demo.png"), full_page=True)
        assert check.errors == []
    finally:
        check.close()
