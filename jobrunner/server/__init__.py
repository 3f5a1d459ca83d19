"""The bundled local realtime server (``jobrunner serve``): the Auto endpoint, offline.

Public API::

    from jobrunner.server import LocalServer, ServerConfig, running_server, serve_forever
    from jobrunner.server import parse_faults, describe_faults, RECOGNIZERS, DEFAULT_PORT
    from jobrunner.server.tones import synthesize, write_wav, turn_texts   # test audio
    from jobrunner.server.faults import parse_faults                       # --faults specs

Modules: ``app`` (upgrade decisions), ``connection`` (one session), ``params`` (query
validation), ``faults``, ``recorder`` (handshakes, counters), ``local`` (threads, CLI entry),
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
