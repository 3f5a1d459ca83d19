"""``jobrunner report`` at the command line: its figures agree with ``status``, and an empty
queue, a missing database, a foreign one and an older schema each get a clear answer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from conftest import BROKEN, TONE_FILES, ToneRun
from helpers import invoke

from jobrunner.store import Store
from jobrunner.store.migrate import alembic_config


def _json(db_url: str, *args: str) -> dict[str, Any]:
    result = invoke(db_url, "report", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_figures_agree_with_status(tone_run: ToneRun) -> None:
    data = _json(tone_run.db_url)
    status = json.loads(invoke(tone_run.db_url, "status", "--json").stdout)
    assert data["schema"] == "jobrunner.report/1"
    summary = data["summary"]
    assert summary["total_jobs"] == status["total_jobs"] == len(TONE_FILES) + 1
    assert summary["total_audio_s"] == status["total_audio_s"]
    shown = {s["state"]: (s["jobs"], s["audio_s"]) for s in summary["states"]}
    assert shown == {k: (v["jobs"], v["audio_s"]) for k, v in status["states"].items()}
    failures = [(f["error_kind"], f["reason"], f["jobs"]) for f in summary["failures"]]
    assert failures == [(f["error_kind"], f["reason"], f["jobs"]) for f in status["top_failures"]]
    assert summary["attempts"] == len(TONE_FILES) and summary["retries"] == 0
    assert summary["models"] == {"ink-2": len(TONE_FILES) + 1}
    assert summary["endpoint"] == "/stt/turns/websocket"
    assert data["turn_detection"]["turns"] == sum(len(t) for t in TONE_FILES.values())
    # internet.wav pauses inside its second turn: an eager end, then a resume
    assert data["turn_detection"]["resumes"] >= 1
    assert data["health"]["peak_concurrency"] >= 1
    assert len(data["health"]["pacing"]) == len(TONE_FILES)
    assert data["accuracy"] is None  # no references anywhere


def test_selection_by_state_and_label(tone_run: ToneRun) -> None:
    invalid = _json(tone_run.db_url, "--state", "invalid")
    assert [Path(f["path"]).name for f in invalid["files"]] == [BROKEN]
    assert invalid["selection"] == {"label": None, "states": ["invalid"]}
    result = invoke(tone_run.db_url, "report", "--label", "nobody", "-o", "-")
    assert result.exit_code == 0
    assert 'id="empty-queue"' in result.stdout and "match this selection" in result.stdout
    assert "note: no jobs match this selection" in result.stderr


def test_html_to_stdout_is_one_page(tone_run: ToneRun) -> None:
    result = invoke(tone_run.db_url, "report", "-o", "-")
    assert result.exit_code == 0
    page = result.stdout
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_a_transcript_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    from reportkit import fill

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with Store.open(url) as store:
        fill(store, 3, with_maps=False)
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE turns SET transcript = '</script><script>alert(1)//'"))
    page = invoke(url, "report", "-o", "-").stdout
    assert "</script><script>alert(1)" not in page
    assert page.count("<script") == page.count("</script>") == 3


def test_an_empty_queue_gets_an_empty_report_and_a_note(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    Store.open(url).close()
    out = tmp_path / "report.html"
    result = invoke(url, "report", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "note: the queue is empty" in result.stderr
    assert 'id="empty-queue"' in out.read_text(encoding="utf-8")
    data = _json(url)
    assert data["summary"]["total_jobs"] == 0 and data["files"] == []
    assert data["turn_detection"]["end_latency"]["n"] == 0


def test_no_database_and_a_foreign_database_are_one_line_answers(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = invoke(missing, "report")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"jobrunner: error: no job queue at sqlite:///{missing}")
    assert not missing.exists()

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    result = invoke(foreign, "report", "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "no jobrunner tables" in line and "Traceback" not in result.output
    with sqlite3.connect(foreign) as conn:  # and nothing was written to it
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"notes"}


def _at_revision(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    engine.dispose()


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(revision)


def test_an_older_schema_is_read_as_it_is_and_never_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _at_revision(f"sqlite:///{path}", "0001")
    data = _json(f"sqlite:///{path}")
    assert data["revision"] == "0001"
    assert any("no speech map columns" in note for note in data["notes"])
    assert _revision(path) == "0001"

    with sqlite3.connect(path) as conn:  # a schema from a newer jobrunner
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    data = _json(f"sqlite:///{path}")
    assert any("revision 9999_future" in note for note in data["notes"])
    assert _revision(path) == "9999_future"


def test_the_report_reads_every_backend(store_url: str) -> None:
    from reportkit import fill

    with Store.open(store_url) as store:
        made = fill(store, 30)
    data = _json(store_url)
    status = json.loads(invoke(store_url, "status", "--json").stdout)
    shown = {s["state"]: s["jobs"] for s in data["summary"]["states"]}
    assert shown == {k: v["jobs"] for k, v in status["states"].items()}
    td = data["turn_detection"]
    assert td["turns"] == made.turns
    # every succeeded file has a stored map: its speech times are computed from it
    assert td["timed_jobs"]["computed"] == shown["succeeded"] == td["mapped_jobs"]
    assert td["end_latency"]["n"] > 0
