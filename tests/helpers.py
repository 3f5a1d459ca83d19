"""The one helpers module of the test suite (pytest puts ``tests/`` on ``sys.path``).

Shared by every test area: the type of the ``serve`` fixture, the CLI wrapper, the settings of
a quick run against the bundled server, and fakes of the service for what the bundled server
never does (:func:`cutting_service`; :func:`manual_service`, a scripted Manual endpoint).
Area-specific helpers (``workerkit``, ``clientkit``, ``storekit``, ...) build on these.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from os import PathLike
from typing import Any

from click.testing import CliRunner, Result
from websockets.asyncio.server import ServerConnection, serve

from jobrunner.cli import cli
from jobrunner.config import Settings
from jobrunner.server import LocalServer

#: the ``serve`` fixture (tests/conftest.py): start a LocalServer with ServerConfig options
Serve = Callable[..., LocalServer]


def db_arg(db: str | PathLike[str]) -> str:
    """A database URL from a URL or a SQLite file path."""
    text = str(db)
    return text if "://" in text else f"sqlite:///{text}"


def invoke(
    db: str | PathLike[str] | None,
    *args: str,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    catch_exceptions: bool = True,
) -> Result:
    """``jobrunner [--db DB] ARGS...`` in-process, as a user types it."""
    argv = (["--db", db_arg(db)] if db is not None else []) + list(args)
    return CliRunner().invoke(
        cli, argv, input=input, env=dict(env or {}), catch_exceptions=catch_exceptions
    )


def fast_settings(
    server: LocalServer | None = None, db_url: str | None = None, **changes: Any
) -> Settings:
    """Settings for a quick run against ``server``: pace 20, a short lease TTL, tiny backoffs and
    short timeouts, so failures and retries take milliseconds, not minutes."""
    values: dict[str, Any] = {
        "base_url": server.url if server is not None else "http://127.0.0.1:9",
        "pace": 20.0,
        "concurrency": 8,
        "max_attempts": 5,
        "lease_ttl_s": 3.0,
        "grace_seconds": 5.0,
        "connect_tries": 4,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "requeue_base_s": 0.02,
        "requeue_cap_s": 0.1,
        "open_timeout_s": 5.0,
        "stall_timeout_s": 2.0,
        "drain_timeout_s": 4.0,
    }
    if db_url is not None:
        values["db_url"] = db_url
    values.update(changes)
    return Settings(**values)


#: the request id of every :func:`cutting_service` event
CUTTING_RID = "req-open-turn"


def _event(kind: str, transcript: str | None = None) -> str:
    data = {"type": kind, "request_id": CUTTING_RID}
    if transcript is not None:
        data["transcript"] = transcript
    return json.dumps(data)


@asynccontextmanager
async def cutting_service(close_code: int, *, before_our_close: bool = False) -> AsyncIterator[str]:
    """A fake of the service that ends one turn ("Hello."), leaves a second one open with text
    (" Cut off"), then closes with ``close_code`` once our close arrives (or at once,
    ``before_our_close``), whatever audio it got. The bundled server always ends its turns;
    whether the real service ever cuts one off is unknown. Yields its URL."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(_event("connected"))
        for frame in [
            _event("turn.start"),
            _event("turn.update", "Hello"),
            _event("turn.end", "Hello."),
            _event("turn.start"),
            _event("turn.update", " Cut"),
            _event("turn.eager_end", " Cut off"),
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


#: the request id of every :func:`manual_service` event
MANUAL_RID = "manual-fake"
#: what :func:`manual_service` received: the upgrade path, then each text frame
manual_service_seen: list[str] = []


def _manual_event(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, "request_id": MANUAL_RID, **fields})


@asynccontextmanager
async def manual_service(
    *, done: bool = True, hang: bool = False, drop_after: int | None = None
) -> AsyncIterator[str]:
    """Answers each ``finalize`` with an interim, a final " partN." (with a word) and
    ``flush_done``, and ``close`` with a final " end." and ``done`` (unless ``done`` is False),
    then closes; ``hang``: neither done nor a close, it keeps the connection open.
    ``drop_after``: drops the connection (1011) after that many finalizes. Records the paths
    and text frames it got in :data:`manual_service_seen`. Yields its URL."""

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        manual_service_seen.append(ws.request.path)
        finalizes = 0
        async for message in ws:
            if isinstance(message, bytes):
                continue
            manual_service_seen.append(message)
            if message == "finalize":
                finalizes += 1
                if drop_after is not None and finalizes > drop_after:
                    await ws.close(1011)
                    return
                word = {"word": f"part{finalizes}.", "start": 0.1, "end": 0.4}
                await ws.send(_manual_event("transcript", text=f" part{finalizes}", is_final=False))
                await ws.send(
                    _manual_event(
                        "transcript", text=f" part{finalizes}.", is_final=True, words=[word]
                    )
                )
                await ws.send(_manual_event("flush_done"))
            elif message == "close":
                await ws.send(
                    _manual_event("transcript", text=" end.", is_final=True, language="en")
                )
                if hang:
                    await ws.wait_closed()
                elif done:
                    await ws.send(_manual_event("done"))
                    await ws.close()
                return
        return

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
