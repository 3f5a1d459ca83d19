"""What one realtime session hands back: live events as they arrive, the result at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from jobrunner.audio.stream import WirePlan
from jobrunner.client.pacer import PacingStats
from jobrunner.protocol.events import ServerEvent
from jobrunner.protocol.turns import Turn


@dataclass(frozen=True)
class LiveEvent:
    """What :func:`jobrunner.client.auto.transcribe_file` reports for each server event.

    ``turn_index`` is the turn the event belongs to (``None`` outside turns), ``state`` the
    turn state after it, ``text`` the turn's cumulative text (its final text on ``turn.end``).
    """

    event: ServerEvent
    audio_s: float
    elapsed_s: float
    turn_index: int | None
    state: str
    text: str


OnEvent = Callable[[LiveEvent], None]


@dataclass(frozen=True)
class SessionResult:
    """A successful session: transcript, turns and how the session went."""

    request_id: str | None
    transcript: str
    """The turns' final texts concatenated verbatim (no strip, no separator)."""
    turns: tuple[Turn, ...]
    turns_ended_by_close: int
    """Turns that the server's normal close ended with text but no ``turn.end``; their last
    cumulative text is their transcript (``Turn.ended_by == "close"``)."""
    plan: WirePlan
    audio_s_sent: float
    pacing: PacingStats
    connect_s: float
    connect_tries: int
    drain_s: float
    """From our close to the server's close."""
    close_code: int
    close_sent: bool
    drained: bool
    unknown_events: int
    started_at: datetime
    ended_at: datetime


__all__ = ["LiveEvent", "OnEvent", "SessionResult"]
