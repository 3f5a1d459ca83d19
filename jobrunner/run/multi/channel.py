"""The control channel between the parent of ``run --processes`` and one worker process:
pickled messages over a private socket pair (never a network socket, never argv: the first
message carries the settings and so the API key).

Parent to child: :class:`Start` (once), :class:`Grant` (session slots), :class:`Stop` (an error
in another child stops this one too). Child to parent: :class:`Want` and :class:`Release`
(slots), :class:`Connected` and :class:`RateLimited` (for the one shared limit),
:class:`Progress`, :class:`Outcome`, :class:`Failed` (this child stops for an error) and
:class:`Finished` (its part of the summary, the last message).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from jobrunner.config import Settings
from jobrunner.errors import JobrunnerError
from jobrunner.run.outcomes import Counts, JobOutcome, RunSnapshot, SpeechResults
from jobrunner.run.worker import RunOptions

logger = logging.getLogger(__name__)

#: an error as it crosses the channel: class, args, attributes (see :func:`pack_error`)
PackedError = tuple[type[JobrunnerError], tuple[Any, ...], dict[str, Any]]


def pack_error(error: JobrunnerError) -> PackedError:
    """Errors with their own ``__init__`` do not survive pickle's ``cls(*args)``: send the
    parts and rebuild without calling ``__init__``."""
    return type(error), error.args, dict(vars(error))


def unpack_error(packed: PackedError) -> JobrunnerError:
    cls, args, state = packed
    error = cls.__new__(cls, *args)
    error.args = args
    vars(error).update(state)
    return error


@dataclass(frozen=True)
class Start:
    settings: Settings
    options: RunOptions
    speech_map: bool
    log_level: int


@dataclass(frozen=True)
class Grant:
    slots: int


@dataclass(frozen=True)
class Stop:
    error: PackedError


@dataclass(frozen=True)
class Want:
    slots: int


@dataclass(frozen=True)
class Release:
    slots: int


@dataclass(frozen=True)
class Connected:
    pass


@dataclass(frozen=True)
class RateLimited:
    pass


@dataclass(frozen=True)
class Progress:
    snapshot: RunSnapshot


@dataclass(frozen=True)
class Outcome:
    outcome: JobOutcome


@dataclass(frozen=True)
class Failed:
    error: PackedError


@dataclass(frozen=True)
class Finished:
    counts: Counts
    interrupted: bool
    error: PackedError | None
    speech: SpeechResults


class Channel:
    """One end of the channel. :meth:`send` never raises: once the other end is gone
    (:attr:`closed`) messages are dropped; the reader hears of it as end of file."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.closed = False

    def send(self, message: object) -> None:
        if self.closed:
            return
        try:
            self.conn.send(message)
        except OSError as exc:
            logger.debug("control channel closed: %s", exc)
            self.closed = True

    def fileno(self) -> int:
        return self.conn.fileno()

    def close(self) -> None:
        self.closed = True
        self.conn.close()


__all__ = [
    "Channel",
    "Connected",
    "Failed",
    "Finished",
    "Grant",
    "Outcome",
    "PackedError",
    "Progress",
    "RateLimited",
    "Release",
    "Start",
    "Stop",
    "Want",
    "pack_error",
    "unpack_error",
]
