"""Conformance: Cartesia's official Python SDK, unmodified, against the local server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import soundfile
from helpers import Serve
from srvkit import run

from jobrunner.server.tones import turn_texts, write_wav

cartesia = pytest.importorskip("cartesia", reason="the official SDK is a dev dependency")
websockets_exceptions = pytest.importorskip("websockets.exceptions")

TURNS = ["Hello from the SDK.", [" It pauses", " and goes on."], " Ça va? 👍"]


async def stream_with_sdk(
    base_url: str, path: Path, *, api_key: str = "test-key", **params: Any
) -> list[Any]:
    """Stream a WAV exactly as the SDK's docs do: 100 ms raw chunks, then close, read all."""
    info = soundfile.info(path)
    client = cartesia.AsyncCartesia(api_key=api_key, base_url=base_url, max_retries=0)
    events: list[Any] = []
    manager = client.stt.auto_finalize.websocket(
        model="ink-2", encoding="pcm_s16le", sample_rate=info.samplerate, **params
    )
    async with manager as connection:

        async def send() -> None:
            with soundfile.SoundFile(path) as wav:
                for block in wav.blocks(blocksize=info.samplerate // 10, dtype="int16"):
                    await connection.send_raw(block.tobytes())
            await connection.send({"type": "close"})

        sender = asyncio.create_task(send())
        async for event in connection:
            events.append(event)
        await sender
    await client.close()
    return events


def test_sdk_streams_a_file_and_gets_exact_turns(serve: Serve, tmp_path: Path) -> None:
    server = serve(api_key="test-key")
    wav = write_wav(tmp_path / "sdk.wav", TURNS, 16000, tail_s=0.1)
    events = run(stream_with_sdk(server.url, wav))

    assert events[0].type == "connected" and events[0].request_id
    assert {e.request_id for e in events} == {events[0].request_id}
    types = [e.type for e in events]
    assert {"turn.start", "turn.update", "turn.eager_end", "turn.resume", "turn.end"} <= set(types)
    assert [e.transcript for e in events if e.type == "turn.end"] == turn_texts(TURNS)
    assert types[-1] == "turn.end"  # the last turn came from the close's flush

    stats = server.wait_idle()
    assert stats.close_codes == {1000: 1}  # iteration ended on a clean server close
    (handshake,) = server.handshakes
    assert handshake.path == "/stt/turns/websocket" and handshake.status == 101
    assert handshake.header("Authorization") == "Bearer test-key"
    assert handshake.header("cartesia-version") == "2026-08-14"
    assert handshake.version == "2026-08-14" and handshake.auth == "bearer"
    assert dict(handshake.query) == {
        "encoding": "pcm_s16le",
        "model": "ink-2",
        "sample_rate": "16000",
    }


def test_sdk_optional_parameters_are_understood(serve: Serve, tmp_path: Path) -> None:
    server = serve()
    wav = write_wav(tmp_path / "p.wav", ["one", " two"], 16000)
    events = run(
        stream_with_sdk(
            server.url,
            wav,
            keyterm=["New York", "jobrunner"],
            turn_end_threshold=0.05,  # joins turns 0.9 s apart
            turn_end_timeout_ms=5600.0,
            turn_start_threshold=0.7,
        )
    )
    assert [e.transcript for e in events if e.type == "turn.end"] == ["one two"]
    handshake = server.handshakes[0]
    assert handshake.param("keyterm") == ["New York", "jobrunner"]
    assert handshake.param("turn_end_timeout_ms") == ["5600.0"]


def test_sdk_sees_a_400_error_event(serve: Serve) -> None:
    server = serve()
    events: list[Any] = []

    async def scenario() -> None:
        client = cartesia.AsyncCartesia(api_key="k", base_url=server.url, max_retries=0)
        manager = client.stt.auto_finalize.websocket(
            model="ink-2", encoding="pcm_s16le", sample_rate=96000
        )
        async with manager as connection:
            with pytest.raises(websockets_exceptions.ConnectionClosedError) as closed:
                async for event in connection:
                    events.append(event)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await client.close()

    run(scenario())
    assert [e.type for e in events] == ["connected", "error"]
    error = events[1]
    assert error.status_code == 400 and error.error_code == "invalid_sample_rate"
    assert error.title == "Bad Request" and "48000" in error.message


def test_sdk_wrong_key_is_refused_on_the_upgrade(serve: Serve, tmp_path: Path) -> None:
    server = serve(api_key="right")
    wav = write_wav(tmp_path / "k.wav", ["x"])
    with pytest.raises(websockets_exceptions.InvalidStatus) as refused:
        run(stream_with_sdk(server.url, wav, api_key="wrong"))
    assert refused.value.response.status_code == 401


async def manual_with_sdk(base_url: str, parts: list[Path], **params: Any) -> list[Any]:
    """The SDK's Manual flow: 100 ms raw chunks, ``finalize`` after each part, ``close``, and
    iteration until the server closes."""
    client = cartesia.AsyncCartesia(api_key="test-key", base_url=base_url, max_retries=0)
    events: list[Any] = []
    manager = client.stt.manual_finalize.websocket(
        model="ink-2", encoding="pcm_s16le", sample_rate=16000, **params
    )
    async with manager as connection:

        async def send() -> None:
            for part in parts:
                with soundfile.SoundFile(part) as wav:
                    for block in wav.blocks(blocksize=1600, dtype="int16"):
                        await connection.send_raw(block.tobytes())
                await connection.send("finalize")
            await connection.send("close")

        sender = asyncio.create_task(send())
        async for event in connection:
            events.append(event)
        await sender
    await client.close()
    return events


def test_sdk_manual_finalize_and_close(serve: Serve, tmp_path: Path) -> None:
    server = serve(api_key="test-key")
    first = write_wav(tmp_path / "1.wav", ["Hello from the SDK."], 16000, tail_s=0.3)
    second = write_wav(tmp_path / "2.wav", [" Ça va? 👍"], 16000, lead_s=0.2, tail_s=0.3)
    events = run(manual_with_sdk(server.url, [first, second], language="en"))

    finals = [e for e in events if e.type == "transcript" and e.is_final]
    assert [e.text for e in finals] == ["Hello from the SDK.", " Ça va? 👍"]
    assert [e.type for e in events].count("flush_done") == 2
    assert events[-1].type == "done"
    assert {e.request_id for e in events} == {events[0].request_id}
    assert finals[0].language == "en" and finals[0].duration == pytest.approx(
        soundfile.info(first).duration, abs=0.01
    )
    stats = server.wait_idle()
    assert stats.close_codes == {1000: 1}  # iteration ended on a clean server close
    (handshake,) = server.handshakes
    assert handshake.path == "/stt/websocket" and handshake.auth == "bearer"
    assert dict(handshake.query) == {
        "encoding": "pcm_s16le",
        "language": "en",
        "model": "ink-2",
        "sample_rate": "16000",
    }
