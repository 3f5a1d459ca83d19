"""Regenerate the README's picture of the report from a real page, in headless Chromium.

    python3 dev demo                                   # writes demo-out/report.html
    .venv/bin/python tests/report/screenshot.py        # -> docs/report.png

Arguments: ``[REPORT.html [OUT.png]]``. The page is shown 1200 px wide with its first file's
timeline open (as it opens), and saved whole.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 1200


def screenshot(browser: Any, html: Path, out: Path, *, width: int = WIDTH) -> Path:
    """A full-page PNG of ``html`` as a reader first sees it."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("#timeline g.turn", state="attached")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    finally:
        page.close()
    return out


def main(argv: list[str]) -> int:
    html = Path(argv[0]) if argv else ROOT / "demo-out" / "report.html"
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "report.png"
    if not html.is_file():
        sys.stderr.write(f"{html} not found: run `python3 dev demo` first\n")
        return 2
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        sys.stderr.write("no chromium on PATH: apt-get install chromium\n")
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        screenshot(browser, html, out)
        browser.close()
    sys.stdout.write(f"wrote {out} ({out.stat().st_size // 1024} KiB)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
