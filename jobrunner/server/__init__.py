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

from jobrunner.server.app import DEFAULT_PORT, RealtimeServer, ServerConfig
from jobrunner.server.faults import describe as describe_faults
from jobrunner.server.faults import parse_faults
from jobrunner.server.local import LocalServer, running_server, serve_forever
from jobrunner.server.recognizer import RECOGNIZERS
from jobrunner.server.recorder import Handshake, ServerStats

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
