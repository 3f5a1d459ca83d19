"""The recognizer interface behind the local server, and the registry of engines.

An engine turns float32 mono samples at the session's rate into turn events. The server owns
everything else: the socket, wire decoding, the request id (events come back without one,
the connection handler fills it in), overload checks and faults. An engine session is used
by one connection at a time and never concurrently, so it needs no locks of its own; when
``blocking`` is true the server calls it in a worker thread so the event loop keeps serving
other sessions.

Engines are found by name and imported lazily, so ``jobrunner serve --engine tones`` never
loads a speech model::

    engine = get_engine("tones")
    session = engine.open(16000, TurnParams(end_threshold=0.1))
    events = session.feed(samples) + session.finish()
"""

from __future__ import annotations

import importlib
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from jobrunner.errors import ConfigError
from jobrunner.protocol.events import ConfigRequest, ServerEvent
from jobrunner.server.turn_detector import TurnParams

Float32Array = npt.NDArray[np.float32]


class EngineSession(Protocol):
    """One connection's recognizer state."""

    #: True -> the server calls ``feed``/``finish`` in a worker thread
    blocking: bool

    def feed(self, samples: Float32Array) -> list[ServerEvent]:
        """Take the next samples (any length, float32 mono at the session rate)."""
        ...

    def configure(self, request: ConfigRequest) -> None:
        """Apply a ``config`` message's turn settings from now on (unset fields unchanged)."""
        ...

    def finish(self) -> list[ServerEvent]:
        """End of audio (the client sent ``close``): emit the remaining events, end any turn."""
        ...


class Engine(Protocol):
    """A recognizer shared by all connections of a server (models load once)."""

    name: str

    def open(self, sample_rate: int, turn: TurnParams) -> EngineSession: ...


#: engine name -> "module:factory"; the factory takes the keyword options of ``get_engine``.
ENGINES: Final[dict[str, str]] = {
    "tones": "jobrunner.server.tones:ToneEngine",
    "whisper": "jobrunner.server.whisper:WhisperEngine",
}


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine called ``name``. Unknown names raise :class:`ConfigError`."""
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine {name!r} (choose from: {', '.join(sorted(ENGINES))})")
    module_name, attr = target.split(":")
    module = importlib.import_module(module_name)
    factory = getattr(module, attr)
    engine: Engine = factory(**options)
    return engine


__all__ = ["ENGINES", "Engine", "EngineSession", "Float32Array", "TurnParams", "get_engine"]
