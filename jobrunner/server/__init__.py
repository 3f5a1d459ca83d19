"""The bundled local server (``jobrunner serve``): Cartesia's three STT endpoints, offline.

Auto (``/stt/turns/websocket``), Manual (``/stt/websocket``) and Batch (``POST /stt``) on one
port, served by aiohttp.

Public API::

    from jobrunner.server import LocalServer, ServerConfig, running_server, serve_forever
    from jobrunner.server import parse_faults, describe_faults, RECOGNIZERS, DEFAULT_PORT
    from jobrunner.server.tones import synthesize, write_wav, turn_texts   # test audio
    from jobrunner.server.faults import parse_faults                       # --faults specs

Modules: ``app`` (routing, upgrade decisions), ``config`` (``ServerConfig``), ``gate`` (keys,
request records, HTTP error bodies), ``session`` (what websocket sessions share),
``connection`` (one Auto session), ``manual`` (one Manual session), ``batch`` (one Batch
request) with ``offline`` (a whole file through a recognizer), ``words`` (word times),
``params`` (query validation), ``faults``, ``damage`` (silent faults), ``recorder``
(handshakes, counters), ``local`` (threads, CLI entry),
``recognizer`` (the interface behind ``--engine``), ``turn_detector``, ``pcm`` (wire decoding),
``tones/`` (deterministic engine: codec, decoder, recognizer), ``whisper/`` (the real
recognizer, ``asr`` extra: decoder, recognition, recognizer) with ``silero`` (VAD) and
``transcripts`` (text that only grows).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobrunner.server.app import RealtimeServer
    from jobrunner.server.config import DEFAULT_PORT, ServerConfig
    from jobrunner.server.faults import describe as describe_faults
    from jobrunner.server.faults import parse_faults
    from jobrunner.server.local import LocalServer, running_server, serve_forever
    from jobrunner.server.recognizer import RECOGNIZERS
    from jobrunner.server.recorder import Handshake, ServerStats

#: public name -> (module, attribute). Imported on first use: ``jobrunner.server.tones`` (test
#: audio for clients and benchmarks) must not pull in the web server (aiohttp costs ~0.5 s)
_EXPORTS = {
    "DEFAULT_PORT": ("config", "DEFAULT_PORT"),
    "RECOGNIZERS": ("recognizer", "RECOGNIZERS"),
    "Handshake": ("recorder", "Handshake"),
    "LocalServer": ("local", "LocalServer"),
    "RealtimeServer": ("app", "RealtimeServer"),
    "ServerConfig": ("config", "ServerConfig"),
    "ServerStats": ("recorder", "ServerStats"),
    "describe_faults": ("faults", "describe"),
    "parse_faults": ("faults", "parse_faults"),
    "running_server": ("local", "running_server"),
    "serve_forever": ("local", "serve_forever"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


__all__ = [
    "DEFAULT_PORT",
    "RECOGNIZERS",
    "Handshake",
    "LocalServer",
    "RealtimeServer",
    "ServerConfig",
    "ServerStats",
    "describe_faults",
    "parse_faults",
    "running_server",
    "serve_forever",
]
