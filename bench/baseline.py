"""The baseline: what Cartesia's own realtime STT example does, applied to a folder.

    python -m bench.baseline --url http://127.0.0.1:PORT FILE...

Per file, one after another, as in the official Auto (turn detection) example: read the WAV
with the ``wave`` module in 100 ms chunks, open ``/stt/turns/websocket``, send each chunk
followed by ``sleep(0.1)``, send ``{"type": "close"}``, and read events until the server
closes. Events are read concurrently with sending (the example iterates them in a separate
task as well). Written with ``websockets`` directly, no jobrunner code on the client side.
The transcript is the ``turn.end`` texts joined verbatim.

Prints one JSON document: the wall time from the first connect to the last close, per-file
results (audio seconds, send wall time, drain time after the close, transcript).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import wave
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect

HEADERS = {"Authorization": "Bearer local-bench", "cartesia-version": "2026-08-14"}


def read_chunks(path: str) -> tuple[int, list[bytes]]:
    """(sample rate, 100 ms chunks) of a mono 16-bit WAV, as the example reads it."""
    with wave.open(path, "rb") as wf:
        if wf.getnchannels() != 1 or wf.getsampwidth() != 2:
            raise SystemExit(f"{path}: the example handles mono 16-bit WAV only")
        rate = wf.getframerate()
        chunks = []
        while data := wf.readframes(rate // 10):
            chunks.append(data)
    return rate, chunks


async def transcribe(base_url: str, path: str) -> dict[str, Any]:
    rate, chunks = read_chunks(path)
    query = urlencode({"model": "ink-2", "encoding": "pcm_s16le", "sample_rate": rate})
    url = base_url.replace("http", "ws", 1) + f"/stt/turns/websocket?{query}"
    texts: list[str] = []
    started = time.monotonic()
    async with connect(url, additional_headers=HEADERS) as ws:

        async def receive() -> None:
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "turn.end":
                    texts.append(event.get("transcript", ""))
                elif event.get("type") == "error":
                    raise RuntimeError(f"{path}: {event}")

        reader = asyncio.create_task(receive())
        sending = time.monotonic()
        for chunk in chunks:
            await ws.send(chunk)
            await asyncio.sleep(0.1)
        await ws.send(json.dumps({"type": "close"}))
        closed = time.monotonic()
        await reader
        drained = time.monotonic()
    return {
        "path": path,
        "audio_s": sum(len(c) for c in chunks) / (2 * rate),
        "connect_s": sending - started,
        "send_s": closed - sending,
        "drain_s": drained - closed,
        "close_code": ws.close_code,
        "transcript": "".join(texts),
    }


async def run_all(base_url: str, paths: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    files = [await transcribe(base_url, path) for path in paths]
    return {"wall_s": time.monotonic() - started, "files": files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="server base URL, http://127.0.0.1:PORT")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    result = asyncio.run(run_all(args.url, args.files))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
