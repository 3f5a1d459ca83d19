"""The local realtime server: one aiohttp app serving the three Cartesia STT endpoints.

Every request on the port is routed here, recorded as a
:class:`~jobrunner.server.recorder.Handshake`, and answered in this order:

1. path and method: ``<prefix>/stt/turns/websocket`` (Auto) and ``<prefix>/stt/websocket``
   (Manual) take a websocket ``GET``, ``<prefix>/stt`` (Batch) a ``POST``; anything else is
   404 (405 for a known path with the wrong method, 426 for a plain GET on a websocket path);
2. key (when the server has one): see :mod:`~jobrunner.server.gate`, else 401;
3. websockets: injected upgrade faults (``upgrade_503`` ...), then the concurrency limit (429);
   Batch: the concurrency limit, then :mod:`~jobrunner.server.batch`;
4. accepted (101) with a fresh request id. Parameters are checked here too, but a bad
   parameter is answered after the upgrade (``error`` 400), as the service does.

aiohttp does websocket and HTTP (multipart) on one port: the websockets library's server
accepts only ``GET``. The permessage-deflate extension is declined (audio barely compresses
and deflating every frame cost about a third of the server's CPU at 50 sessions), no
subprotocol is chosen, frames are limited to 1 MiB and the server pings every 20 s, as the
websockets defaults did. Access logs are off: request lines carry keys in their query.
The server never logs credentials, and binds to loopback unless told otherwise (``public``
plus an API key).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import WSCloseCode, web

from jobrunner.protocol.batch import BATCH_PATH
from jobrunner.protocol.events import AUTO_PATH
from jobrunner.protocol.manual import MANUAL_PATH
from jobrunner.server.batch import BatchHandler
from jobrunner.server.config import DEFAULT_PORT, ServerConfig
from jobrunner.server.connection import ConnectionHandler
from jobrunner.server.faults import FaultInjector
from jobrunner.server.gate import REQUEST_LOGGER, Asked, error_response, key_refusal, read_request
from jobrunner.server.manual import ManualHandler
from jobrunner.server.params import parse_manual_request, parse_request
from jobrunner.server.recognizer import Recognizer, get_recognizer
from jobrunner.server.recorder import Handshake, Recorder, ServerStats
from jobrunner.server.session import Admission, Limits, Session

log = logging.getLogger(__name__)

MAX_FRAME_BYTES: Final = 1 << 20
PING_INTERVAL_S: Final = 20.0

#: kept for importers of the old name: the logger of request lines (see ``gate``)
WEBSOCKETS_LOGGER: Final = REQUEST_LOGGER


class RealtimeServer:
    """The server object: owns the recognizer, the fault injector and the records.

    The recognizer is built from ``config.engine`` unless one is given (tests, benchmarks).
    """

    #: listen backlog (benchmarks raise it: a burst of 1,000 connects overflows 128)
    backlog = 128

    def __init__(self, config: ServerConfig, recognizer: Recognizer | None = None) -> None:
        self.config = config
        self.recognizer = recognizer or get_recognizer(config.engine, **dict(config.engine_options))
        self.recorder = Recorder()
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._limits = Limits(max_rate=config.max_rate, burst_s=config.burst_s)
        self._busy = 0  # sessions and Batch requests admitted and not finished
        self._sockets: set[web.WebSocketResponse] = set()
        self._numbers = 0
        self._batch_numbers = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        prefix = config.path_prefix.rstrip("/")
        self._routes: dict[
            str, tuple[str, Callable[[web.Request, Asked], Awaitable[web.StreamResponse]]]
        ] = {  # fmt: skip
            prefix + AUTO_PATH: ("GET", self._auto),
            prefix + MANUAL_PATH: ("GET", self._manual),
            prefix + BATCH_PATH: ("POST", self._batch),
        }

    # --- records ------------------------------------------------------------------------

    @property
    def stats(self) -> ServerStats:
        return self.recorder.snapshot()

    @property
    def handshakes(self) -> list[Handshake]:
        return self.recorder.handshakes()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (port 0 picks a free port; see :attr:`port`)."""
        app = web.Application(handler_args={"max_field_size": 16384})
        app.router.add_route("*", "/{tail:.*}", self._route)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, backlog=self.backlog)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``: a base URL for the official SDK and our client."""
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.config.path_prefix.rstrip('/')}"

    async def stop(self) -> None:
        """Close every websocket (1001, going away), then the listener."""
        if self._runner is None:
            return
        sockets = list(self._sockets)
        if sockets:
            await asyncio.gather(
                *(ws.close(code=WSCloseCode.GOING_AWAY) for ws in sockets), return_exceptions=True
            )
        await self._runner.cleanup()
        self._runner = None

    # --- routing ------------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.StreamResponse:
        asked = read_request(request)
        route = self._routes.get(asked.path)
        if route is None:
            return self._refuse(asked, 404, "not_found", f"no endpoint at {asked.path}")
        method, handler = route
        if request.method != method:
            return self._refuse(
                asked,
                405,
                "method_not_allowed",
                f"{asked.path} takes {method}, not {request.method}",
            )
        refused = key_refusal(asked, self.config.api_key.reveal())
        if refused is not None:
            return self._refuse(asked, 401, *refused)
        return await handler(request, asked)

    def _refuse(self, asked: Asked, status: int, error_code: str, message: str) -> web.Response:
        record = asked.record(status)
        if asked.method == "POST":
            self.recorder.batch(record)
        else:
            self.recorder.upgrade(record)
        return error_response(status, error_code, message)

    def _full(self) -> bool:
        limit = self.config.max_sessions
        return limit is not None and self._busy >= limit

    def _too_many(self, asked: Asked) -> web.Response:
        return self._refuse(
            asked,
            429,
            "concurrency_limit_exceeded",
            f"too many concurrent sessions (limit {self.config.max_sessions})",
        )

    # --- websockets ---------------------------------------------------------------------

    async def _auto(self, request: web.Request, asked: Asked) -> web.StreamResponse:
        return await self._websocket(request, asked, manual=False)

    async def _manual(self, request: web.Request, asked: Asked) -> web.StreamResponse:
        return await self._websocket(request, asked, manual=True)

    async def _websocket(
        self, request: web.Request, asked: Asked, *, manual: bool
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            compress=False, heartbeat=PING_INTERVAL_S, max_msg_size=MAX_FRAME_BYTES
        )
        if not ws.can_prepare(request).ok:
            return self._refuse(asked, 426, "upgrade_required", "this endpoint is a websocket")
        self._numbers += 1
        number = self._numbers
        fault = self.faults.for_upgrade(number)
        if fault is not None and fault.status is not None:
            self.recorder.fault(fault.label)
            return self._refuse(
                asked, fault.status, "injected_fault", f"injected fault: {fault.label}"
            )
        if self._full():
            return self._too_many(asked)
        request_id = str(uuid.uuid4())
        version_header = request.headers.get("cartesia-version")
        parsed = (
            parse_manual_request(asked.query, version_header=version_header)
            if manual
            else parse_request(asked.query, version_header=version_header)
        )
        valid = not hasattr(parsed, "error_code")
        session_fault = self.faults.for_session(number, manual=manual) if valid else None
        admission = Admission(number, request_id, parsed, session_fault)
        self.recorder.upgrade(asked.record(101, request_id))
        self._busy += 1
        self.recorder.session_opened()
        try:
            transport = request.transport
            await ws.prepare(request)
            self._sockets.add(ws)
            kind: type[Session] = ManualHandler if manual else ConnectionHandler
            handler = kind(ws, transport, admission, self.recognizer, self._limits, self.recorder)
            await handler.run()
        finally:
            self._sockets.discard(ws)
            self._busy -= 1
            self.recorder.session_closed()
        return ws

    # --- batch --------------------------------------------------------------------------

    async def _batch(self, request: web.Request, asked: Asked) -> web.StreamResponse:
        if self._full():
            return self._too_many(asked)
        self._batch_numbers += 1
        self._busy += 1
        self.recorder.session_opened()
        try:
            handler = BatchHandler(
                request,
                number=self._batch_numbers,
                recognizer=self.recognizer,
                faults=self.faults,
                recorder=self.recorder,
                max_upload_bytes=self.config.max_upload_bytes,
            )
            response = await handler.run()
        finally:
            self._busy -= 1
            self.recorder.session_closed()
        self.recorder.batch(asked.record(response.status, handler.request_id))
        return response


__all__ = [
    "BATCH_PATH",
    "DEFAULT_PORT",
    "MANUAL_PATH",
    "WEBSOCKETS_LOGGER",
    "RealtimeServer",
    "ServerConfig",
]
