"""Cartesia's official SDK and our client, one file each, against the bundled server.

The SDK is the reference for what the real service accepts. If both get the same answer from
the server and the server saw the same handshake from both (User-Agent aside), our client
speaks the service's protocol as the SDK does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from cartesia import AsyncCartesia
from clientkit import EXPECTED
from helpers import Serve, fast_settings

from jobrunner import __version__
from jobrunner.audio.stream import iter_chunks, plan_stream
from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.config import Secret
from jobrunner.server import Handshake, LocalServer

KEY = "sk-conformance-test"
OPTIONS: dict[str, Any] = {
    "keyterm": ["Cartesia", "job runner"],
    "turn_start_threshold": 0.7,
    "turn_eager_end_threshold": 0.35,
    "turn_end_threshold": 0.1,
    "turn_end_timeout_ms": 2000,
}


async def sdk_session(server: LocalServer, path: Path) -> list[Any]:
    settings = fast_settings(server)
    plan = plan_stream(path, settings)
    client = AsyncCartesia(api_key=KEY, base_url=server.url)
    events: list[Any] = []
    async with client.stt.auto_finalize.websocket(
        model="ink-2", encoding=plan.encoding, sample_rate=plan.sample_rate, **OPTIONS
    ) as connection:

        async def send() -> None:
            for chunk in iter_chunks(path, plan, settings.chunk_ms):
                await connection.send_raw(chunk)
            await connection.send({"type": "close"})

        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            async for event in connection:  # ends at the server's clean close
                events.append(event)
    await client.close()
    return events


def comparable(handshake: Handshake) -> dict[str, Any]:
    return {
        "path": handshake.path,
        "query": list(handshake.query),
        "authorization": handshake.header("Authorization"),
        "version": handshake.header("cartesia-version"),
        "status": handshake.status,
    }


def test_sdk_and_jobrunner_send_the_same_handshake_and_get_the_same_turns(
    serve: Serve, tone_wav: Path
) -> None:
    server = serve(api_key=KEY)

    events = anyio.run(sdk_session, server, tone_wav)
    assert server.wait_idle().close_codes == {1000: 1}  # the server closed cleanly
    types = [event.type for event in events]
    assert types[0] == "connected"
    assert {"turn.start", "turn.update", "turn.eager_end", "turn.resume"} <= set(types)
    assert "".join(e.transcript for e in events if e.type == "turn.end") == EXPECTED

    settings = fast_settings(
        server,
        api_key=Secret(KEY),
        keyterms=tuple(OPTIONS["keyterm"]),
        turn_start_threshold=OPTIONS["turn_start_threshold"],
        turn_eager_end_threshold=OPTIONS["turn_eager_end_threshold"],
        turn_end_threshold=OPTIONS["turn_end_threshold"],
        turn_end_timeout_ms=OPTIONS["turn_end_timeout_ms"],
    )

    async def ours() -> SessionResult:
        return await transcribe_file(tone_wav, settings)

    result = anyio.run(ours)
    assert result.transcript == EXPECTED
    assert server.wait_idle().close_codes == {1000: 2}

    sdk, jobrunner = server.handshakes
    assert comparable(jobrunner) == comparable(sdk)
    assert sdk.param("keyterm") == ["Cartesia", "job runner"]
    assert jobrunner.header("Authorization") == f"Bearer {KEY}"
    assert jobrunner.header("User-Agent") == f"jobrunner/{__version__}"
    assert sdk.header("User-Agent") != jobrunner.header("User-Agent")
