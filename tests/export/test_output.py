"""Where an export goes and what it selects: files appear whole or not at all, ``-o -``,
filters, per-job file names, and the CLI's messages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from exportkit import add_failed, add_invalid, add_queued, add_succeeded
from helpers import invoke

from jobrunner.errors import UsageError
from jobrunner.export import export
from jobrunner.export.fields import (
    FILE_FIELDS,
    NESTED_TURN_FIELDS,
    SPEECH_FIELDS,
    TIMING_FIELDS,
    TURN_FIELDS,
)
from jobrunner.export.owned import LEDGER
from jobrunner.store import Store


def run(db: Path, *args: str) -> Result:
    return invoke(db, "export", *args)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two labelled succeeded jobs, a failed, an invalid and a queued one (ids 1-5)."""
    (tmp_path / "db").mkdir()
    path = tmp_path / "db" / "jobs.db"
    with Store.open(f"sqlite:///{path}") as store:
        add_succeeded(store, "/calls/monday.wav", ["Hello,", " world."], label="calls")
        add_succeeded(store, "/memos/idea.flac", ["Buy milk."], label="memos")
        add_failed(store, "/calls/broken.wav", "error event 400: unsupported encoding")
        add_invalid(store, "/calls/notes.txt.wav", "not an audio file")
        add_queued(store, "/calls/later.wav", label="calls")
    return path


def corrupt_job(db: Path, job_id: int) -> None:
    """Damage one row the way a broken disk or a bad manual edit would."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET settings = '{not json' WHERE id = ?", (job_id,))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_every_job_is_exported_with_its_reason(db: Path, tmp_path: Path) -> None:
    result = run(db, "-o", str(tmp_path / "all.jsonl"))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"exported 5 jobs, 3 turns to {tmp_path / 'all.jsonl'}"
    jobs = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert [(j["job_id"], j["status"], j["error"]) for j in jobs] == [
        (1, "succeeded", None),
        (2, "succeeded", None),
        (3, "failed", "error event 400: unsupported encoding"),
        (4, "invalid", "not an audio file"),
        (5, "queued", None),
    ]
    assert [j["transcript"] for j in jobs] == ["Hello, world.", "Buy milk.", None, None, None]
    assert jobs[2]["error_kind"] == "rejected" and jobs[3]["error_kind"] == "invalid_audio"
    assert list(jobs[0]) == [*FILE_FIELDS, "turns", "dialogue"]
    assert [list(t) for t in jobs[0]["turns"]] == [list(NESTED_TURN_FIELDS)] * 2


def test_help_documents_the_fields_in_their_order(tmp_path: Path) -> None:
    help_text = " ".join(invoke(None, "export", "--help").output.split())
    assert "by file: " + ", ".join(FILE_FIELDS) in help_text
    timings = ", ".join(TIMING_FIELDS)
    assert "timings: " + timings in help_text
    speech = ", ".join(SPEECH_FIELDS)
    assert "speech: " + speech in help_text
    by_turn = ", ".join(TURN_FIELDS).replace(timings, "<timings>").replace(speech, "<speech>")
    assert "by turn: " + by_turn in help_text
    nested = ", ".join(NESTED_TURN_FIELDS).replace(timings, "<timings>")
    assert f"turns: [{{{nested.replace(speech, '<speech>')}}}]" in help_text


def test_filters_by_state_and_label(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    cases = {
        ("--state", "succeeded"): [1, 2],
        ("--state", "failed", "--state", "invalid"): [3, 4],
        ("--label", "calls"): [1, 5],
        ("--label", "calls", "--state", "succeeded"): [1],
        ("--label", "nobody"): [],
    }
    for flags, ids in cases.items():
        result = run(db, *flags, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert [json.loads(line)["job_id"] for line in out.read_text().splitlines()] == ids


def test_dash_writes_to_stdout_exactly_what_a_file_gets(db: Path, tmp_path: Path) -> None:
    for fmt, by in (("jsonl", "file"), ("csv", "turn")):
        to_file = run(db, "--format", fmt, "--by", by, "-o", str(tmp_path / "out"))
        to_stdout = run(db, "--format", fmt, "--by", by, "-o", "-")
        default = run(db, "--format", fmt, "--by", by)
        assert to_file.exit_code == to_stdout.exit_code == default.exit_code == 0
        assert to_stdout.stdout_bytes == (tmp_path / "out").read_bytes() == default.stdout_bytes
        assert to_stdout.stderr.strip().endswith("to stdout")


def test_bom_only_where_asked(db: Path, tmp_path: Path) -> None:
    assert run(db, "--format", "csv", "--bom", "-o", str(tmp_path / "b.csv")).exit_code == 0
    assert (tmp_path / "b.csv").read_bytes().startswith(b'\xef\xbb\xbf"job_id"')
    assert run(db, "--format", "csv", "-o", str(tmp_path / "p.csv")).exit_code == 0
    assert (tmp_path / "p.csv").read_bytes().startswith(b'"job_id"')
    refused = run(db, "--format", "jsonl", "--bom")
    assert refused.exit_code == 2 and "--bom is for --format csv" in refused.stderr


def test_a_failed_export_leaves_no_file_and_keeps_the_old_one(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous export\n")
    corrupt_job(db, 3)
    with Store.open(f"sqlite:///{db}") as store, pytest.raises(ValueError):
        # one job per page: jobs 1 and 2 are written before job 3 cannot be read
        export(store, "jsonl", out=out, page_size=1)
    assert out.read_text() == "previous export\n"
    assert listing(tmp_path) == ["db", "out.jsonl"]
    new = tmp_path / "new.csv"
    with Store.open(f"sqlite:///{db}") as store, pytest.raises(ValueError):
        export(store, "csv", by="turn", out=new, page_size=1)
    assert not new.exists()
    assert listing(tmp_path) == ["db", "out.jsonl"]


def test_a_failed_folder_export_publishes_nothing(db: Path, tmp_path: Path) -> None:
    corrupt_job(db, 3)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "monday.srt").write_text("old\n")
    with Store.open(f"sqlite:///{db}") as store:
        for target in (tmp_path / "fresh", existing):
            with pytest.raises(ValueError):
                export(store, "srt", out=target, page_size=1, overwrite=True)
    assert not (tmp_path / "fresh").exists()
    assert listing(existing) == ["monday.srt"]
    assert (existing / "monday.srt").read_text() == "old\n"
    assert listing(tmp_path) == ["db", "existing"]


def test_folder_export_names_files_after_the_audio(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        ids = [
            add_succeeded(store, path, [" Hi."])
            for path in (
                "/a/call.wav",
                "/b/call.wav",  # same name in another folder
                "/a/call.flac",  # same stem
                "/a/CALL.wav",  # same name on a case-insensitive file system
                "/a/.hidden:odd?.wav",
                "/a/ .wav",
            )
        ]
        add_failed(store, "/a/failed.wav", "error event 400")
        target = tmp_path / "subs"
        target.mkdir()
        (target / "keep.txt").write_text("mine")
        summary = export(store, "vtt", out=target)
    assert summary.line() == (
        f"exported 7 jobs, 6 turns to {target}/ (6 files; 1 jobs without a transcript skipped)"
    )
    assert listing(target) == sorted(
        [
            "call.vtt",
            f"call-{ids[1]}.vtt",
            f"call-{ids[2]}.vtt",
            f"CALL-{ids[3]}.vtt",
            "hidden_odd_.vtt",
            f"job-{ids[5]}.vtt",
            "keep.txt",
            LEDGER,
        ]
    )
    assert (target / "keep.txt").read_text() == "mine"
    assert (target / "call.vtt").read_text() == "WEBVTT\n\n00:00:00.400 --> 00:00:01.900\nHi.\n\n"


def test_a_folder_export_never_replaces_a_file_it_did_not_write(db: Path, tmp_path: Path) -> None:
    recordings = tmp_path / "calls"
    recordings.mkdir()
    (recordings / "monday.wav").write_bytes(b"RIFF")
    (recordings / "monday.txt").write_text("my own notes\n")  # beside monday.wav
    before = listing(recordings)

    refused = run(db, "--format", "txt", "-o", str(recordings))
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"jobrunner: error: {recordings / 'monday.txt'} exists and was not written by a "
        "jobrunner export: nothing written (give --overwrite to replace such files)\n"
    )
    assert listing(recordings) == before  # no idea.txt, no ledger, no stage left behind
    assert (recordings / "monday.txt").read_text() == "my own notes\n"

    replaced = run(db, "--format", "txt", "-o", str(recordings), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (recordings / "monday.txt").read_text() == "Hello, world.\n"
    assert listing(recordings) == sorted([LEDGER, "idea.txt", "monday.txt", "monday.wav"])


def test_a_re_export_replaces_its_own_files_until_someone_edits_one(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    with Store.open(f"sqlite:///{db}") as store:
        add_succeeded(store, "/calls/monday.wav", ["Hello,", " world."])
        add_succeeded(store, "/memos/idea.flac", ["Buy milk."])
    out = tmp_path / "subs"
    for fmt in ("srt", "srt", "vtt"):  # a new folder, the same again, another suffix
        result = run(db, "--format", fmt, "-o", str(out))
        assert result.exit_code == 0, result.output
    assert listing(out) == [LEDGER, "idea.srt", "idea.vtt", "monday.srt", "monday.vtt"]
    with Store.open(f"sqlite:///{db}") as store:
        add_succeeded(store, "/calls/idea.wav", [" A second idea."], label="later")
    again = run(db, "--format", "srt", "--label", "later", "-o", str(out))
    assert again.exit_code == 0, again.output  # new content for a name an export wrote
    assert (out / "idea.srt").read_text().endswith("\nA second idea.\n\n")
    assert listing(out) == [LEDGER, "idea.srt", "idea.vtt", "monday.srt", "monday.vtt"]

    (out / "monday.srt").write_text("1\n00:00:00,400 --> 00:00:01,900\nHello, world!\n\n")
    edited = run(db, "--format", "srt", "-o", str(out))
    assert edited.exit_code == 2
    assert f"{out / 'monday.srt'} exists and was not written by a jobrunner export" in edited.stderr
    assert "Hello, world!" in (out / "monday.srt").read_text()

    (out / LEDGER).unlink()  # without the ledger nothing is known to be an export's
    assert run(db, "--format", "vtt", "-o", str(out)).exit_code == 2


def test_folder_formats_need_a_folder(db: Path, tmp_path: Path) -> None:
    missing = run(db, "--format", "srt")
    assert missing.exit_code == 2 and "give -o FOLDER" in missing.stderr
    (tmp_path / "file").write_text("x")
    on_file = run(db, "--format", "txt", "-o", str(tmp_path / "file"))
    assert on_file.exit_code == 2 and "is a file" in on_file.stderr
    by_turn = run(db, "--format", "srt", "--by", "turn", "-o", str(tmp_path / "s"))
    assert by_turn.exit_code == 2 and "--by turn is for jsonl and csv" in by_turn.stderr
    with Store.open(f"sqlite:///{db}") as store, pytest.raises(UsageError):
        export(store, "txt", out=None)


def test_document_formats_refuse_a_folder_or_a_missing_parent(db: Path, tmp_path: Path) -> None:
    on_folder = run(db, "-o", str(tmp_path))
    assert on_folder.exit_code == 2 and "is a folder" in on_folder.stderr
    no_parent = run(db, "-o", str(tmp_path / "nope" / "x.jsonl"))
    assert no_parent.exit_code == 2 and "does not exist" in no_parent.stderr


def test_no_database_is_an_error_not_an_empty_export(tmp_path: Path) -> None:
    result = run(tmp_path / "none.db", "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and "no job queue at sqlite:///" in result.stderr
    assert listing(tmp_path) == []
