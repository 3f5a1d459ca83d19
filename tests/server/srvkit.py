"""Helpers for the local server tests: a real websockets client on loopback, wire audio.

Imported by the tests as ``srvkit`` (pytest puts this folder on ``sys.path``).

Audio for the wire is encoded with soundfile (libsndfile), not with our decoder's tables,
so encoder and decoder are independent implementations.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from jobrunner.protocol.events import AUTO_PATH
from jobrunner.server.tones import TurnSpec, synthesize

#: the shared speech samples (real and synthesized speech with reference texts); like
#: ``bench/asr.py``, ``JOBRUNNER_SPEECH`` points elsewhere (a git worktree sits one level deeper)
SPEECH = Path(
    os.environ.get(
        "JOBRUNNER_SPEECH", Path(__file__).resolve().parents[2].parent / "shared" / "speech"
    )
)

SUBTYPES = {
    "pcm_s16le": "PCM_16",
    "pcm_s32le": "PCM_32",
    "pcm_f32le": "FLOAT",
    "pcm_mulaw": "ULAW",
    "pcm_alaw": "ALAW",
}


def encode(samples: np.ndarray, encoding: str, rate: int = 16000) -> bytes:
    """Raw little-endian mono bytes of ``samples`` in a wire encoding."""
    if encoding == "pcm_f16le":
        return samples.astype("<f2").tobytes()
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="RAW", subtype=SUBTYPES[encoding], endian="LITTLE")
    return buf.getvalue()


def tone_bytes(
    turns: Sequence[TurnSpec], encoding: str = "pcm_s16le", rate: int = 16000, **timing: float
) -> bytes:
    return encode(synthesize(turns, rate, **timing), encoding, rate)


def query(encoding: str = "pcm_s16le", rate: int | str = 16000, **extra: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({"model": "ink-2", "encoding": encoding, "sample_rate": rate, **extra})


@dataclass
class Outcome:
    """What a client saw: parsed events, how the socket ended, or the refused upgrade."""

    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    status: int | None = None  # HTTP status when the upgrade was refused
    body: bytes = b""
    left_open: bool = False  # the server had not closed ``quiet_wait_s`` after our close

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    @property
    def finals(self) -> list[str]:
        return [e["transcript"] for e in self.of("turn.end")]


async def talk(
    base: str,
    query_string: str = "",
    *,
    audio: bytes = b"",
    chunk: int = 3200,
    headers: dict[str, str] | None = None,
    texts: Sequence[str] = (),
    send_close: bool = True,
    path: str = AUTO_PATH,
    quiet_wait_s: float | None = None,
) -> Outcome:
    """Connect, send ``texts`` then ``audio`` in ``chunk``-byte frames then close, read all.

    Receiving runs alongside sending from the start. ``quiet_wait_s``: after our close, give
    up waiting for the server after this long (used to observe a stall).
    """
    steps: list[bytes | str] = [*texts, audio]
    if send_close:
        steps.append(json.dumps({"type": "close"}))
    return await converse(
        base,
        query_string,
        steps,
        chunk=chunk,
        headers=headers,
        path=path,
        quiet_wait_s=quiet_wait_s,
    )


MANUAL_PATH = "/stt/websocket"


def manual_query(encoding: str = "pcm_s16le", rate: int = 16000, **extra: Any) -> str:
    return query(encoding, rate, **extra)


async def converse(
    base: str,
    query_string: str,
    steps: Sequence[bytes | str],
    *,
    chunk: int = 3200,
    headers: dict[str, str] | None = None,
    path: str = MANUAL_PATH,
    quiet_wait_s: float | None = None,
) -> Outcome:
    """Like :func:`talk`, for Manual: each step is audio (sent in ``chunk``-byte frames) or a
    text frame sent as is (``"finalize"``, ``"close"``); reads until the server closes."""
    out = Outcome()
    url = base.replace("http", "ws", 1) + path + (f"?{query_string}" if query_string else "")
    try:
        ws = await connect(url, additional_headers=headers or {}, open_timeout=10)
    except InvalidStatus as exc:
        out.status = exc.response.status_code
        out.body = exc.response.body
        return out

    async def sender() -> None:
        try:
            for step in steps:
                if isinstance(step, str):
                    await ws.send(step)
                    continue
                for start in range(0, len(step), chunk):
                    await ws.send(step[start : start + chunk])
        except ConnectionClosed:
            pass

    async def receiver() -> None:
        while True:
            try:
                out.events.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                return

    async with asyncio.timeout(60):
        send_task = asyncio.create_task(sender())
        recv_task = asyncio.create_task(receiver())
        await send_task
        if quiet_wait_s is None:
            await recv_task
        else:
            done, _ = await asyncio.wait({recv_task}, timeout=quiet_wait_s)
            if not done:
                out.left_open = True
                recv_task.cancel()
                await ws.close()
    out.close_code = ws.close_code
    out.close_reason = ws.close_reason or ""
    return out


def finals_of(out: Outcome) -> list[str]:
    """The ``is_final`` transcript texts of a Manual session, in order."""
    return [e["text"] for e in out.of("transcript") if e["is_final"]]


def run(coro: Any) -> Any:
    return asyncio.run(coro)
