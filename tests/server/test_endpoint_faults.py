"""The injected faults of the Manual and Batch endpoints, as a client sees them."""

from __future__ import annotations

import io
import json

import httpx
import pytest
import soundfile
from helpers import Serve
from srvkit import converse, finals_of, manual_query, run, tone_bytes

from jobrunner.server.tones import synthesize

AUDIO = tone_bytes(["alpha beta"], tail_s=0.3)


def test_manual_no_done_leaves_the_client_waiting(serve: Serve) -> None:
    server = serve(faults="no_done=first:1")
    out = run(converse(server.url, manual_query(), [AUDIO, "close"], quiet_wait_s=0.5))
    assert finals_of(out) == ["alpha beta"]  # the finals came...
    assert "done" not in out.types and out.left_open  # ...but no done and no close
    assert server.wait_idle().faults_injected == {"no_done": 1}
    again = run(converse(server.url, manual_query(), [AUDIO, "close"]))
    assert again.types[-1] == "done" and again.close_code == 1000


def test_manual_late_interim_follows_the_last_final(serve: Serve) -> None:
    out = run(converse(serve(faults="late_interim=1.0").url, manual_query(), [AUDIO, "close"]))
    last_final = max(i for i, e in enumerate(out.events) if e.get("is_final"))
    late = out.events[last_final + 1]
    assert late["type"] == "transcript" and late["is_final"] is False
    assert out.types[-1] == "done" and out.close_code == 1000


def test_manual_drop_and_error_events(serve: Serve) -> None:
    dropped = run(converse(serve(faults="drop@0.5=1.0").url, manual_query(), [AUDIO, "close"]))
    assert dropped.close_code == 1006 and finals_of(dropped) == []
    failed = run(converse(serve(faults="error_500@0.5=1.0").url, manual_query(), [AUDIO]))
    assert failed.types[-1] == "error" and failed.events[-1]["status_code"] == 500
    assert failed.close_code == 1011


def test_manual_faults_leave_auto_sessions_alone(serve: Serve) -> None:
    from srvkit import query, talk

    server = serve(faults="no_done=1.0,late_interim=1.0")
    out = run(talk(server.url, query(), audio=AUDIO))
    assert out.finals == ["alpha beta"] and out.close_code == 1000
    assert server.wait_idle().faults_injected == {}


def wav() -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, synthesize(["Hi."], 16000), 16000, format="WAV")
    return buf.getvalue()


def post(url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(
            url + "/stt",
            files={"file": ("a.wav", wav(), "audio/wav")},
            data={"model": "ink-whisper"},
        )


def test_batch_status_faults_carry_the_error_body_and_retry_after(serve: Serve) -> None:
    server = serve(faults="batch_429=first:1,batch_503=first:1")
    busy, down, fine = post(server.url), post(server.url), post(server.url)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert busy.json()["error_code"] == "injected_fault"
    assert down.status_code == 503 and down.headers["Retry-After"] == "1"
    assert fine.status_code == 200 and fine.json()["text"] == "Hi."
    stats = server.wait_idle()
    assert stats.faults_injected == {"batch_429": 1, "batch_503": 1}
    assert stats.batch_statuses == {429: 1, 503: 1, 200: 1}


def test_batch_bad_answers_are_200s_that_are_not_a_transcript(serve: Serve) -> None:
    garbage = post(serve(faults="batch_garbage=1.0").url)
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage.text)
    shape = post(serve(faults="batch_shape=1.0").url)
    assert shape.status_code == 200 and "text" not in shape.json()


def test_batch_slow_still_answers(serve: Serve) -> None:
    server = serve(faults="batch_slow@0.1=1.0")
    assert post(server.url).json()["text"] == "Hi."
    assert server.wait_idle().faults_injected == {"batch_slow": 1}


def test_batch_faults_leave_websockets_alone(serve: Serve) -> None:
    server = serve(faults="batch_503=1.0")
    out = run(converse(server.url, manual_query(), [AUDIO, "close"]))
    assert finals_of(out) == ["alpha beta"]
