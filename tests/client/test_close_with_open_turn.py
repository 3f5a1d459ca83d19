"""A server that closes normally after our close while a turn is still open.

Whether the real service ever does this is unknown; if it does, failing the session would fail
every retry the same way. The bundled server always ends its turns, so a small fake of the
service plays the part here, over a real loopback websocket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from helpers import fast_settings
from websockets.asyncio.server import ServerConnection, serve

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.errors import ConnectionLostError, DrainError

RID = "req-open-turn"


def event(kind: str, transcript: str | None = None) -> str:
    data = {"type": kind, "request_id": RID}
    if transcript is not None:
        data["transcript"] = transcript
    return json.dumps(data)


@asynccontextmanager
async def cutting_service(close_code: int, *, before_our_close: bool = False) -> AsyncIterator[str]:
    """A service that ends one turn, leaves a second one open with text, then closes with
    ``close_code`` once our close arrives (or at once, ``before_our_close``). Yields its URL."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(event("connected"))
        for frame in [
            event("turn.start"),
            event("turn.update", "Hello"),
            event("turn.end", "Hello."),
            event("turn.start"),
            event("turn.update", " Cut"),
            event("turn.eager_end", " Cut off"),
        ]:
            await ws.send(frame)
        if not before_our_close:
            async for message in ws:
                if isinstance(message, str) and json.loads(message)["type"] == "close":
                    break
        await ws.close(close_code)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"


def run(path: Path, close_code: int, *, before_our_close: bool = False) -> SessionResult:
    # at pace 1 our close is seconds away when a service closing "before our close" closes
    settings = fast_settings(pace=1.0 if before_our_close else 20.0)

    async def main() -> SessionResult:
        async with cutting_service(close_code, before_our_close=before_our_close) as url:
            return await transcribe_file(path, settings.replace(base_url=url))

    return anyio.run(main)


def test_the_open_turn_keeps_its_last_text_and_is_marked_ended_by_the_close(
    tone_wav: Path,
) -> None:
    result = run(tone_wav, 1000)
    assert result.transcript == "Hello. Cut off"  # joined verbatim like any turn.end text
    assert [(t.transcript, t.ended_by) for t in result.turns] == [
        ("Hello.", "turn.end"),
        (" Cut off", "close"),
    ]
    assert result.turns_ended_by_close == 1
    assert (result.close_code, result.drained, result.request_id) == (1000, True, RID)
    cut = result.turns[1]
    assert cut.end_audio_s == pytest.approx(result.plan.duration_s, abs=1e-3)
    assert cut.end_at is not None and cut.eager_ends == 1


def test_an_abnormal_close_with_an_open_turn_still_fails_and_is_retried(tone_wav: Path) -> None:
    with pytest.raises(ConnectionLostError) as info:
        run(tone_wav, 1011)
    assert info.value.retryable and info.value.close_code == 1011
    assert info.value.facts is not None and info.value.facts.turns_discarded == 1


def test_a_normal_close_before_ours_still_fails(tone_wav: Path) -> None:
    with pytest.raises(DrainError) as info:
        run(tone_wav, 1000, before_our_close=True)
    assert info.value.retryable and "before our close" in str(info.value)
