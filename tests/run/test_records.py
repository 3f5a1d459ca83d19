"""An attempt's facts as store records (run/records.py), from a real session and a real claim.

One file goes through the bundled server (tones engine) and is claimed from a real SQLite
queue; the mappers then turn what the session did into the rows a user later reads in
``jobs``, ``status`` and the exports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from helpers import Serve, fast_settings
from workerkit import enqueue, make_files

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.config import Settings
from jobrunner.errors import AudioError, FileChangedError, ServerHandshakeError, SessionFacts
from jobrunner.protocol.turns import Turn
from jobrunner.run.records import (
    check_complete,
    failure_record,
    job_settings,
    success_record,
    turn_rows,
)
from jobrunner.server.tones import write_wav
from jobrunner.store import ClaimedJob, Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Streamed:
    job: ClaimedJob
    result: SessionResult
    settings: Settings


@pytest.fixture
def streamed(serve: Serve, tmp_path: Path, store: Store, db_url: str) -> Streamed:
    """One claimed job and the session that streamed its file to the end."""
    [path] = make_files(tmp_path / "audio", 1)
    settings = fast_settings(serve(), db_url)
    enqueue(store, settings, tmp_path / "audio")
    [job] = store.claim(1, "host:1:abcd", 30.0)
    result = anyio.run(transcribe_file, path, settings)
    return Streamed(job, result, settings)


def test_a_streamed_session_becomes_a_success_record_of_this_attempt(streamed: Streamed) -> None:
    job, result = streamed.job, streamed.result
    record = success_record(job, "host:1:abcd", result)
    assert (record.number, record.worker) == (job.attempt, "host:1:abcd")
    assert (record.started_at, record.ended_at) == (result.started_at, result.ended_at)
    assert record.audio_seconds_sent == result.audio_s_sent > 0
    assert record.encoding == result.plan.encoding and record.sample_rate == 16000
    assert record.request_id == result.request_id is not None
    assert record.close_code == result.close_code == 1000
    assert record.connect_s == result.connect_s and record.drain_s == result.drain_s
    assert record.send_rate_mean == result.pacing.mean_rate
    assert record.error_kind is None and record.error_message is None


def test_a_drained_session_that_still_fails_the_job_keeps_its_facts_and_says_why(
    streamed: Streamed,
) -> None:
    record = failure_record(
        streamed.job,
        "w",
        AudioError("/a.wav", "decoded short"),
        kind="invalid_audio",
        reason="/a.wav: decoded short",
        started_at=T0,
        ended_at=T0,
        result=streamed.result,
    )
    assert record.error_kind == "invalid_audio" and record.error_message == "/a.wav: decoded short"
    assert record.audio_seconds_sent == streamed.result.audio_s_sent
    assert record.started_at == streamed.result.started_at  # the session's times, not T0
    assert record.request_id == streamed.result.request_id


def test_a_failed_session_is_recorded_from_the_facts_it_carries() -> None:
    job = _job()
    facts = SessionFacts(
        request_id="req-9",
        connect_s=0.25,
        audio_s_sent=1.5,
        close_code=1011,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=3),
    )
    error = ServerHandshakeError("upgrade refused: 503", http_status=503, facts=facts)
    record = failure_record(
        job,
        "w",
        error,
        kind="server_handshake",
        reason="upgrade refused: 503",
        started_at=T0 - timedelta(hours=1),
        ended_at=T0 + timedelta(hours=1),
    )
    assert (record.started_at, record.ended_at) == (T0, T0 + timedelta(seconds=3))
    assert (record.http_status, record.close_code, record.request_id) == (503, 1011, "req-9")
    assert record.audio_seconds_sent == 1.5 and record.connect_s == 0.25
    assert (record.number, record.error_kind) == (job.attempt, "server_handshake")


def test_an_error_outside_a_session_is_recorded_with_the_attempts_own_times() -> None:
    record = failure_record(
        _job(),
        "w",
        RuntimeError("a bug"),
        kind="internal",
        reason="internal error: RuntimeError: a bug",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=1),
    )
    assert (record.started_at, record.ended_at) == (T0, T0 + timedelta(seconds=1))
    assert record.audio_seconds_sent == 0.0
    assert (record.http_status, record.close_code, record.request_id) == (None, None, None)
    assert record.error_message == "internal error: RuntimeError: a bug"


def test_turn_rows_keep_order_and_text_and_time_turns_from_the_attempts_start(
    streamed: Streamed,
) -> None:
    turns = streamed.result.turns
    origin = turns[0].start_at - 2.0  # the attempt began 2 s before the first turn
    rows = turn_rows(turns, origin)
    assert [r.index for r in rows] == list(range(len(turns))) and len(rows) >= 2
    assert [r.transcript for r in rows] == [t.transcript for t in turns]
    assert rows[0].start_wall_s == pytest.approx(2.0)
    for row, turn in zip(rows, turns, strict=True):
        assert row.end_wall_s == pytest.approx((turn.end_at or 0) - origin)
        assert row.start_audio_s == turn.start_audio_s and row.end_audio_s == turn.end_audio_s
    # a turn that never ended has no end time
    [open_row] = turn_rows([Turn(index=0, start_audio_s=0.5, start_at=10.0)], origin=9.0)
    assert open_row.start_wall_s == 1.0 and open_row.end_wall_s is None


def test_the_whole_file_sent_is_complete_within_one_chunk(streamed: Streamed) -> None:
    job, result, chunk_ms = streamed.job, streamed.result, streamed.settings.chunk_ms
    assert check_complete(job, result, chunk_ms) is None
    half_chunk = replace(job, duration_s=job.duration_s + chunk_ms / 2000)
    assert check_complete(half_chunk, result, chunk_ms) is None
    longer = replace(job, duration_s=job.duration_s + 1.0)
    error = check_complete(longer, result, chunk_ms)
    assert isinstance(error, AudioError) and error.path == job.path
    assert "its header says" in error.reason and f"{longer.duration_s:.3f} s" in error.reason


def test_a_file_changed_since_enqueue_is_named_as_such(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    [path] = make_files(tmp_path / "audio", 1)
    settings = fast_settings(serve(), db_url)
    enqueue(store, settings, tmp_path / "audio")
    [job] = store.claim(1, "w", 30.0)
    write_wav(path, ["Another text."], sample_rate=8000)
    result = anyio.run(transcribe_file, path, settings)
    error = check_complete(job, result, settings.chunk_ms)
    assert isinstance(error, FileChangedError)  # a failure for good, not invalid audio
    assert "changed since enqueue" in error.reason
    assert f"at {job.sample_rate} Hz then" in error.reason and "at 8000 Hz now" in error.reason


def test_a_job_streams_with_the_settings_it_was_enqueued_with(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    make_files(tmp_path / "audio", 1)
    at_enqueue = fast_settings(None, db_url, keyterms=("Cartesia",), turn_end_threshold=0.9)
    enqueue(store, at_enqueue, tmp_path / "audio")
    [job] = store.claim(1, "w", 30.0)
    run = fast_settings(None, db_url, pace=3.0, turn_end_threshold=0.5)
    streamed_with = job_settings(run, job.settings)
    assert streamed_with.result_settings() == at_enqueue.result_settings()
    assert streamed_with.keyterms == ("Cartesia",)  # a tuple again, as Settings holds it
    assert streamed_with.pace == 3.0  # how to run stays the run's
    assert job_settings(run, {}) is run
    assert job_settings(run, {"pace": 9.0, "unknown": 1}) is run  # only result settings count


def _job() -> ClaimedJob:
    return ClaimedJob(
        id=1,
        path="/a.wav",
        sha256=None,
        format="WAV",
        subtype="PCM_16",
        sample_rate=16000,
        channels=1,
        frames=48000,
        duration_s=3.0,
        label=None,
        settings={},
        attempt=2,
        attempts_left=3,
        lease_owner="w",
        lease_expires_at=T0,
    )
