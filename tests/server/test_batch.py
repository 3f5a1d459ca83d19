"""The Batch endpoint (``POST /stt``): multipart in, the documented JSON out, HTTP errors."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile
from helpers import Serve
from srvkit import query, run

from jobrunner.server.tones import synthesize, turn_texts, write_wav

TURNS = ["Hello there.", [" How are", " you?"], " Ünïcödé ✓"]


def post(
    url: str,
    *,
    file: tuple[str, bytes, str] | None,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    files = {"file": file} if file is not None else None
    form = {"model": "ink-whisper", **(data or {})}
    with httpx.Client(timeout=60) as client:
        return client.post(
            url + "/stt", files=files, data=form, headers=headers or {}, params=params
        )


def wav_bytes(turns: list[Any], rate: int = 16000, fmt: str = "WAV", **timing: float) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, synthesize(turns, rate, **timing), rate, format=fmt)
    return buf.getvalue()


WAV = wav_bytes(TURNS)


def test_transcript_with_words_as_documented(serve: Serve) -> None:
    server = serve()
    response = post(
        server.url,
        file=("call.wav", WAV, "audio/wav"),
        data={"language": "en", "timestamp_granularities[]": "word"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "text", "duration", "language", "request_id", "words"}
    assert body["type"] == "transcript" and body["language"] == "en"
    assert body["text"] == "".join(turn_texts(TURNS))
    assert body["duration"] == pytest.approx(len(WAV) / 2 / 16000, abs=0.01)
    assert uuid.UUID(body["request_id"]).version == 4
    words = body["words"]
    assert [w["word"] for w in words] == ["Hello", "there.", "How", "are", "you?", "Ünïcödé", "✓"]
    assert all(0 <= w["start"] < w["end"] <= body["duration"] for w in words)
    stats = server.wait_idle()
    assert stats.batch_requests == 1 and stats.batch_statuses == {200: 1}
    (record,) = server.handshakes
    assert record.method == "POST" and record.path == "/stt" and record.status == 200
    assert record.request_id == body["request_id"]


def test_no_words_unless_asked(serve: Serve) -> None:
    body = post(serve().url, file=("a.wav", WAV, "audio/wav")).json()
    assert "words" not in body and body["text"] == "".join(turn_texts(TURNS))


@pytest.mark.parametrize(
    ("fmt", "rate"), [("FLAC", 16000), ("OGG", 48000), ("WAV", 8000), ("MP3", 44100)]
)
def test_containers_and_rates(serve: Serve, fmt: str, rate: int) -> None:
    audio = wav_bytes(["Hi!", " Bye."], rate, fmt)
    response = post(serve().url, file=(f"a.{fmt.lower()}", audio, "application/octet-stream"))
    if fmt in ("OGG", "MP3"):  # lossy: the tones survive, but we only check the shape
        assert response.status_code == 200 and isinstance(response.json()["text"], str)
    else:
        assert response.json()["text"] == "Hi! Bye."


def test_stereo_is_downmixed_and_raw_pcm_needs_its_format(serve: Serve) -> None:
    server = serve()
    mono = synthesize(["two ears"], 16000)
    buf = io.BytesIO()
    soundfile.write(buf, [[s, s] for s in mono], 16000, format="WAV")
    assert post(server.url, file=("s.wav", buf.getvalue(), "audio/wav")).json()["text"] == (
        "two ears"
    )
    raw = (mono * 32767).astype("<i2").tobytes()
    params = {"encoding": "pcm_s16le", "sample_rate": "16000"}
    response = post(server.url, file=("r.raw", raw, "application/octet-stream"), params=params)
    assert response.json()["text"] == "two ears"


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"error_code", "title", "message", "request_id"} <= set(body)
    return body


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"model": "ink-2"}, "invalid_model"),
        ({"model": ""}, "missing_parameter"),
        ({"language": "English"}, "invalid_language"),
        ({"timestamp_granularities[]": "segment"}, "invalid_parameter"),
    ],
)
def test_bad_fields_are_400(serve: Serve, data: dict[str, str], code: str) -> None:
    body = error_of(post(serve().url, file=("a.wav", WAV, "audio/wav"), data=data), 400)
    assert body["error_code"] == code and body["title"] == "Bad Request"


def test_missing_file_not_multipart_and_undecodable_audio_are_400(serve: Serve) -> None:
    server = serve()
    assert error_of(post(server.url, file=None), 400)["message"] == "file is required"
    with httpx.Client() as client:
        plain = client.post(server.url + "/stt", json={"model": "ink-whisper"})
    assert "multipart/form-data" in error_of(plain, 400)["message"]
    junk = post(server.url, file=("a.wav", b"not audio at all" * 100, "audio/wav"))
    assert error_of(junk, 400)["error_code"] == "invalid_audio"


def test_a_file_over_the_limit_is_413_naming_it(serve: Serve) -> None:
    server = serve(max_upload_bytes=50_000)
    body = error_of(post(server.url, file=("big.wav", WAV, "audio/wav")), 413)
    assert body["error_code"] == "file_too_large" and "50000 bytes" in body["message"]
    assert post(server.url, file=("small.wav", WAV[:40_000], "audio/wav")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": "Bearer sekret"}, {}),
        ({"X-API-Key": "sekret"}, {}),
        ({}, {"api_key": "sekret"}),
    ],
)
def test_the_key_as_for_websockets(
    serve: Serve, headers: dict[str, str], params: dict[str, str]
) -> None:
    server = serve(api_key="sekret")
    ok = post(server.url, file=("a.wav", WAV, "audio/wav"), headers=headers, params=params)
    assert ok.status_code == 200
    wrong = post(server.url, file=("a.wav", WAV, "audio/wav"), headers={"X-API-Key": "nope"})
    assert error_of(wrong, 401)["error_code"] == "unauthorized" and "nope" not in wrong.text


def test_concurrency_limit_is_429_with_retry_after(serve: Serve) -> None:
    from websockets.asyncio.client import connect

    server = serve(max_sessions=1)
    url = server.url.replace("http", "ws") + "/stt/turns/websocket?" + query()

    async def scenario() -> httpx.Response:
        async with connect(url) as held:
            await held.recv()  # connected: the one slot is taken
            async with httpx.AsyncClient() as client:
                return await client.post(
                    server.url + "/stt",
                    files={"file": ("a.wav", WAV, "audio/wav")},
                    data={"model": "ink-whisper"},
                )

    refused = run(scenario())
    assert error_of(refused, 429)["error_code"] == "concurrency_limit_exceeded"
    assert refused.headers["Retry-After"] == "1"
    server.wait_idle()
    assert post(server.url, file=("a.wav", WAV, "audio/wav")).status_code == 200


def test_wrong_method_and_path(serve: Serve) -> None:
    server = serve()
    with httpx.Client() as client:
        assert error_of(client.get(server.url + "/stt"), 405)["error_code"] == "method_not_allowed"
        assert client.post(server.url + "/stt/batch").status_code == 404
        assert client.get(server.url + "/stt/websocket").status_code == 426


def test_sdk_transcribes_a_file_with_word_timestamps(serve: Serve, tmp_path: Path) -> None:
    cartesia = pytest.importorskip("cartesia")
    server = serve(api_key="test-key")
    wav = write_wav(tmp_path / "sdk.wav", TURNS, 16000)

    async def scenario() -> Any:
        client = cartesia.AsyncCartesia(api_key="test-key", base_url=server.url, max_retries=0)
        try:
            with wav.open("rb") as audio:
                return await client.stt.transcribe(
                    file=audio, model="ink-whisper", language="en", timestamp_granularities=["word"]
                )
        finally:
            await client.close()

    result = run(scenario())
    assert result.type == "transcript" and result.text == "".join(turn_texts(TURNS))
    assert [w.word for w in result.words][:2] == ["Hello", "there."]
    assert result.duration == pytest.approx(soundfile.info(wav).duration, abs=0.01)
    record = server.handshakes[0]
    assert record.header("Authorization") == "Bearer test-key" and record.auth == "bearer"
    assert json.dumps(record.query) == "[]"
