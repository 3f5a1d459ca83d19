"""Running the server: in-process for tests and benchmarks, or in the foreground for the CLI.

:class:`LocalServer` starts the server on its own event loop in a background thread, on a
free loopback port, and returns once it listens (an event, no polling)::

    with LocalServer(ServerConfig(port=0, max_rate=0)) as server:   # or running_server(...)
        client = AsyncCartesia(api_key="k", base_url=server.url)   # http://127.0.0.1:PORT
        ...
        server.stats.sessions_total, server.handshakes[-1].param("model")

The client side may use any event loop (or anyio) it likes: the two loops never share an
object. :func:`serve_forever` is the ``jobrunner serve`` entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from jobrunner.errors import UsageError
from jobrunner.server.app import RealtimeServer, ServerConfig
from jobrunner.server.recognizer import Recognizer
from jobrunner.server.recorder import Handshake, ServerStats

START_TIMEOUT_S = 30.0


class LocalServer:
    """The realtime server in a background thread; a context manager."""

    def __init__(
        self, config: ServerConfig | None = None, recognizer: Recognizer | None = None
    ) -> None:
        self.config = config or ServerConfig(port=0)
        self._recognizer = recognizer
        self._app: RealtimeServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- what tests read ----------------------------------------------------------------

    @property
    def app(self) -> RealtimeServer:
        if self._app is None:
            raise RuntimeError("LocalServer is not running")
        return self._app

    @property
    def port(self) -> int:
        return self.app.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: base URL for the SDK and for jobrunner's settings."""
        return self.app.url

    @property
    def ws_url(self) -> str:
        """The full Auto endpoint URL, ``ws://127.0.0.1:PORT/stt/turns/websocket``."""
        return "ws" + self.url.removeprefix("http") + "/stt/turns/websocket"

    @property
    def stats(self) -> ServerStats:
        return self.app.stats

    @property
    def handshakes(self) -> list[Handshake]:
        return self.app.handshakes

    def wait_idle(self, timeout: float = 10.0) -> ServerStats:
        """Wait until every session handler has finished; the stats then are final.

        A client sees the close before the server's handler returns, so counters such as
        ``sessions_open`` lag a moment behind what the client knows.
        """
        if not self.app.recorder.wait_idle(timeout):
            raise TimeoutError(f"sessions still open after {timeout} s: {self.stats}")
        return self.stats

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> LocalServer:
        if self._thread is not None:
            raise RuntimeError("LocalServer already started")
        self._thread = threading.Thread(target=self._run, name="jobrunner-serve", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the local server did not start in time")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self) -> None:
        """Close every connection (1001) and the listening socket; wait for the thread."""
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(stop.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() if it happened before ready
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                raise

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = RealtimeServer(self.config, self._recognizer)
        await app.start()
        self._app = app
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await app.stop()


@contextlib.contextmanager
def running_server(recognizer: Recognizer | None = None, **options: Any) -> Iterator[LocalServer]:
    """``LocalServer(ServerConfig(port=0, **options), recognizer)`` as a ``with`` block.

    ``engine="whisper"`` (a :class:`ServerConfig` option) picks the recognizer by name;
    ``recognizer`` passes one already built.
    """
    options.setdefault("port", 0)
    with LocalServer(ServerConfig(**options), recognizer) as server:
        yield server


async def serve_forever(
    config: ServerConfig, *, ready: Callable[[RealtimeServer], None] | None = None
) -> None:
    """Serve until cancelled (Ctrl-C) or SIGTERM; ``ready`` is called once listening."""
    app = RealtimeServer(config)
    try:
        await app.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows / not main
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    if ready is not None:
        ready(app)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        await app.stop()


__all__ = ["LocalServer", "running_server", "serve_forever"]
