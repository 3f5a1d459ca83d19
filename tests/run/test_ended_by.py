"""A turn that the server's normal close cut off (text kept, ``ended_by: "close"``) through the
whole product: stored with its job, exported, and counted by ``status`` and the run summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import anyio
from helpers import cutting_service, fast_settings, invoke
from workerkit import enqueue, exported, make_files

from jobrunner.cli.run_views import summary_json, summary_line
from jobrunner.run import RunSummary, arun_queue
from jobrunner.store import Store


def test_a_turn_cut_off_by_the_close_is_stored_exported_and_counted(
    store_url: str, tmp_path: Path
) -> None:
    make_files(tmp_path / "audio", 1)
    with Store.open(store_url) as store:
        settings = fast_settings(None, store_url)
        enqueue(store, settings, tmp_path / "audio")

        async def main() -> RunSummary:
            async with cutting_service(1000) as url:
                return await arun_queue(settings.replace(base_url=url), store)

        summary = anyio.run(main)
        [job] = exported(store).values()
    assert summary.counts.succeeded == 1 and summary.counts.turns_ended_by_close == 1
    assert summary_json(summary)["turns_ended_by_close"] == 1
    assert "1 succeeded, 0 failed, 0 invalid, 0 retried, 1 turn ended by the server's close" in (
        summary_line(summary)
    )
    assert job.transcript == "Hello. Cut off"
    assert [(t.transcript, t.ended_by) for t in job.turns] == [
        ("Hello.", "turn.end"),
        (" Cut off", "close"),
    ]

    status = invoke(store_url, "status")
    assert "turns ended by the server's close: 1 (their text is the last update)" in status.stdout
    assert json.loads(invoke(store_url, "status", "--json").stdout)["turns_ended_by_close"] == 1
    jsonl, by_turn = tmp_path / "out.jsonl", tmp_path / "turns.csv"
    assert invoke(store_url, "export", "-o", str(jsonl)).exit_code == 0
    [line] = jsonl.read_text(encoding="utf-8").splitlines()
    assert [t["ended_by"] for t in json.loads(line)["turns"]] == ["turn.end", "close"]
    args = ["export", "--format", "csv", "--by", "turn", "-o", str(by_turn)]
    assert invoke(store_url, *args).exit_code == 0
    with by_turn.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert header[-9:-7] == ["transcript", "ended_by"]  # the speech fields, words, speaker follow
    assert [row[-9:-7] for row in rows] == [["Hello.", "turn.end"], [" Cut off", "close"]]


def test_a_status_without_such_turns_says_nothing_of_them(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}"):
        pass
    status = invoke(tmp_path / "jobs.db", "status")
    assert status.exit_code == 0 and "ended by the server's close" not in status.stdout
