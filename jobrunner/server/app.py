"""The local realtime server: upgrade decisions, then one :class:`ConnectionHandler` each.

Everything the service answers *on the upgrade* is decided in :meth:`RealtimeServer.
process_request`, in this order, and recorded as a :class:`~jobrunner.server.recorder.Handshake`:

1. path: ``<prefix>/stt/turns/websocket`` or 404;
2. key (when the server has one): the first credential present among ``Authorization:
   Bearer``, ``X-API-Key``, ``?api_key=``, ``?access_token=`` must match, else 401;
3. injected upgrade faults (``upgrade_503`` ...), then the concurrency limit (429);
4. accepted (101) with a fresh request id. Parameters are checked here too, but a bad
   parameter is answered after the upgrade (``error`` 400), as the service does.

The permessage-deflate extension is declined: audio barely compresses and deflating every
frame cost about a third of the server's CPU at 50 sessions (clients work either way).

Refusals carry a JSON body like the service's HTTP errors (``error_code``, ``title``,
``message``, ``request_id``). The server never logs credentials, and binds to loopback
unless told otherwise (``public`` plus an API key).
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.protocol import State

from jobrunner.config import Secret
from jobrunner.errors import UsageError
from jobrunner.net import is_loopback
from jobrunner.protocol.events import AUTO_PATH
from jobrunner.redact import redact_library_logs
from jobrunner.server.connection import Admission, ConnectionHandler, Limits, status_phrase
from jobrunner.server.faults import FaultInjector, FaultSpec
from jobrunner.server.params import SessionRequest, parse_request
from jobrunner.server.recognizer import Recognizer, get_recognizer
from jobrunner.server.recorder import Handshake, Recorder, ServerStats

log = logging.getLogger(__name__)
redact_library_logs()  # websockets logs request headers (keys) at DEBUG

DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServerConfig:
    """How ``jobrunner serve`` / :class:`LocalServer` behave. Frozen; validated on creation."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: Secret = field(default_factory=lambda: Secret(""))
    engine: str = "tones"  # --engine: a name in recognizer.RECOGNIZERS
    engine_options: Mapping[str, Any] = field(default_factory=dict)  # its keyword options
    faults: FaultSpec = field(default_factory=FaultSpec)
    seed: int = 0
    max_sessions: int | None = None
    max_rate: float = 1.25  # x realtime; 0 disables the overload check
    burst_s: float = 1.5
    public: bool = False
    path_prefix: str = ""

    def __post_init__(self) -> None:
        if not is_loopback(self.host):
            if not self.public:
                raise UsageError(
                    f"refusing to bind to {self.host}: the server binds to loopback unless "
                    "started with --public (and --api-key)"
                )
            if not self.api_key:
                raise UsageError(
                    "--public needs --api-key or --api-key-file: a reachable server must check keys"
                )
        if self.max_sessions is not None and self.max_sessions < 1:
            raise UsageError(f"--max-sessions must be >= 1, got {self.max_sessions}")
        if self.max_rate < 0 or self.burst_s < 0:
            raise UsageError("--max-rate and --burst-s must not be negative")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0-65535, got {self.port}")

    @property
    def path(self) -> str:
        return self.path_prefix.rstrip("/") + AUTO_PATH


def _credential(request: Request, query: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(method, value) of the first credential present, in the service's order."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        return "bearer", token.strip() if scheme.lower() == "bearer" else ""
    header_key = request.headers.get("X-API-Key")
    if header_key is not None:
        return "x-api-key", header_key
    params = dict(query)
    for name in ("api_key", "access_token"):
        if name in params:
            return name, params[name]
    return None, None


#: the logger websockets writes this server's handshakes to (request line and headers, with
#: any key in them, at DEBUG); :mod:`jobrunner.redact` masks credentials in it
WEBSOCKETS_LOGGER: Final = "jobrunner.server.websockets"


class RealtimeServer:
    """The server object: owns the recognizer, the fault injector and the records.

    The recognizer is built from ``config.engine`` unless one is given (tests, benchmarks).
    """

    def __init__(self, config: ServerConfig, recognizer: Recognizer | None = None) -> None:
        self.config = config
        self.recognizer = recognizer or get_recognizer(config.engine, **dict(config.engine_options))
        self.recorder = Recorder()
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._limits = Limits(max_rate=config.max_rate, burst_s=config.burst_s)
        self._admissions: weakref.WeakKeyDictionary[ServerConnection, Admission] = (
            weakref.WeakKeyDictionary()
        )
        self._slots: set[ServerConnection] = set()
        self._numbers = 0
        self._server: Server | None = None

    # --- records ------------------------------------------------------------------------

    @property
    def stats(self) -> ServerStats:
        return self.recorder.snapshot()

    @property
    def handshakes(self) -> list[Handshake]:
        return self.recorder.handshakes()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> Server:
        """Listen (port 0 picks a free port; see :attr:`port`)."""
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self.process_request,
            logger=logging.getLogger(WEBSOCKETS_LOGGER),
            compression=None,
        )
        return self._server

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``http://host:port``: a base URL for the official SDK and our client."""
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.config.path_prefix.rstrip('/')}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- upgrade ------------------------------------------------------------------------

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self._numbers += 1
        number = self._numbers
        split = urlsplit(request.path)
        query = parse_qsl(split.query, keep_blank_values=True)
        headers = tuple(request.headers.raw_items())
        method, credential = _credential(request, query)
        version = dict(query).get("cartesia_version", request.headers.get("cartesia-version"))

        def record(status: int, request_id: str | None = None) -> None:
            self.recorder.upgrade(
                Handshake(
                    path=split.path,
                    query=tuple(query),
                    headers=headers,
                    status=status,
                    request_id=request_id,
                    auth=method,
                    version=version,
                )
            )

        if split.path != self.config.path:
            record(404)
            return _refuse(conn, 404, "not_found", f"no endpoint at {split.path}")
        expected = self.config.api_key
        if expected and (credential is None or not _same(credential, expected.reveal())):
            record(401)
            why = "missing API key" if credential is None else "invalid API key"
            return _refuse(conn, 401, "unauthorized", why)
        fault = self.faults.for_upgrade(number)
        if fault is not None and fault.status is not None:
            record(fault.status)
            self.recorder.fault(fault.label)
            return _refuse(conn, fault.status, "injected_fault", f"injected fault: {fault.label}")
        if self.config.max_sessions is not None and self._busy() >= self.config.max_sessions:
            record(429)
            return _refuse(
                conn,
                429,
                "concurrency_limit_exceeded",
                f"too many concurrent sessions (limit {self.config.max_sessions})",
            )
        request_id = str(uuid.uuid4())
        parsed = parse_request(query, version_header=request.headers.get("cartesia-version"))
        session_fault = (
            self.faults.for_session(number) if isinstance(parsed, SessionRequest) else None
        )
        self._admissions[conn] = Admission(number, request_id, parsed, session_fault)
        self._slots.add(conn)
        record(101, request_id)
        return None

    def _busy(self) -> int:
        self._slots = {c for c in self._slots if c.state is not State.CLOSED}
        return len(self._slots)

    async def _handle(self, conn: ServerConnection) -> None:
        admission = self._admissions.pop(conn, None)
        if admission is None:  # pragma: no cover - process_request always admits first
            await conn.close(1011)
            return
        self.recorder.session_opened()
        try:
            handler = ConnectionHandler(
                conn, admission, self.recognizer, self._limits, self.recorder
            )
            await handler.run()
        finally:
            self._slots.discard(conn)
            self.recorder.session_closed()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _refuse(conn: ServerConnection, status: int, error_code: str, message: str) -> Response:
    body = json.dumps(
        {
            "error_code": error_code,
            "title": status_phrase(status),
            "message": message,
            "request_id": str(uuid.uuid4()),
        }
    )
    response = conn.respond(status, body + "\n")
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


__all__ = ["DEFAULT_PORT", "WEBSOCKETS_LOGGER", "RealtimeServer", "ServerConfig", "is_loopback"]
