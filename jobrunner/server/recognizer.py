"""The recognizer interface behind the local server, and the registry of recognizers.

A :class:`Recognizer` (the ``--engine`` of ``jobrunner serve``) is shared by every connection;
:meth:`~Recognizer.open` starts a :class:`Recognition`, one connection's state, which turns
float32 mono samples at the session's rate into turn events (and, where the engine knows them,
word times: :class:`~jobrunner.server.words.TurnWords`). The server owns everything else:
the socket, wire decoding, the request id (events come back without one, the connection
handler fills it in), overload checks and faults. A recognition is used by one connection at a
time and never concurrently, so it needs no locks of its own; when ``blocking`` is true the
server calls it in a worker thread so the event loop keeps serving other sessions.

Recognizers are found by their engine name and imported lazily, so ``jobrunner serve --engine
tones`` never loads a speech model::

    recognizer = get_recognizer("tones")
    recognition = recognizer.open(16000, TurnParams(end_threshold=0.1))
    events = recognition.feed(samples) + recognition.finish()

The Manual endpoint's ``finalize`` is :meth:`Recognition.cut`: the open turn ends now and the
stream goes on, so text spacing and word times run on over the whole session. Manual opens its
recognition with ``turns=False``: the client places the turns, so the engine's turn detector
must not gate what is transcribed (a short word after a finalize is still text).
"""

from __future__ import annotations

import importlib
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from jobrunner.errors import ConfigError
from jobrunner.protocol.events import ConfigRequest
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import EngineEvent

Float32Array = npt.NDArray[np.float32]


class Recognition(Protocol):
    """One connection's recognizer state."""

    #: True -> the server calls ``feed``/``finish`` in a worker thread
    blocking: bool

    def feed(self, samples: Float32Array) -> list[EngineEvent]:
        """Take the next samples (any length, float32 mono at the session rate)."""
        ...

    def configure(self, request: ConfigRequest) -> None:
        """Apply a ``config`` message's turn settings from now on (unset fields unchanged)."""
        ...

    def finish(self) -> list[EngineEvent]:
        """End of audio (the client sent ``close``): emit the remaining events, end any turn."""
        ...

    def cut(self) -> list[EngineEvent]:
        """Manual ``finalize``: everything fed so far is judged and an open turn ends now;
        more audio may follow."""
        ...


class Recognizer(Protocol):
    """A recognizer shared by all connections of a server (models load once)."""

    name: str

    def open(
        self, sample_rate: int, turn: TurnParams, *, words: bool = False, turns: bool = True
    ) -> Recognition:
        """One session. ``words``: emit :class:`~jobrunner.server.words.TurnWords` (Manual and
        Batch answer with them; an engine for which they are cheap may always emit them).
        ``turns=False``: no turn detection; one turn runs from each :meth:`~Recognition.cut`
        to the next and holds all of its audio (Manual)."""
        ...


#: engine name (``--engine``) -> "module:factory"; the factory takes the keyword options of
#: :func:`get_recognizer`.
RECOGNIZERS: Final[dict[str, str]] = {
    "tones": "jobrunner.server.tones:ToneRecognizer",
    "whisper": "jobrunner.server.whisper:WhisperRecognizer",
}


def get_recognizer(name: str, **options: Any) -> Recognizer:
    """Build the recognizer of engine ``name``. Unknown names raise :class:`ConfigError`."""
    target = RECOGNIZERS.get(name)
    if target is None:
        choices = ", ".join(sorted(RECOGNIZERS))
        raise ConfigError(f"unknown engine {name!r} (choose from: {choices})")
    module_name, attr = target.split(":")
    module = importlib.import_module(module_name)
    factory = getattr(module, attr)
    recognizer: Recognizer = factory(**options)
    return recognizer


__all__ = [
    "RECOGNIZERS",
    "Float32Array",
    "Recognition",
    "Recognizer",
    "TurnParams",
    "get_recognizer",
]
