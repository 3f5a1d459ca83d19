"""The life of one Auto-endpoint connection, sans I/O: close codes, deadlines, the judgement
of the server's close, and the success rule.

The client's socket loop reports what happened and when (seconds on its own clock) to a
:class:`Lifecycle` and asks it what that means; nothing here opens a socket or reads a clock,
so every rule is a unit test. Phases::

    streaming --our close sent--> draining --the server closed--> closed
    streaming --the server closed-------------------------------> closed

Rules, and why:

* **Deadlines only while draining.** While audio goes out, silence legitimately produces no
  events for as long as it lasts, so "no event" proves nothing then (a dead peer is noticed by
  the websocket keepalive). After our close the server owes us the rest of the turns and its
  close, so from then on the receive deadline is the earlier of ``stall_timeout_s`` after the
  last event (or our close) and ``drain_timeout_s`` after our close. Missing it is a
  :class:`DrainError` once the drain budget is spent, a :class:`StallError` before that.
* **The server's close.** 1000 after our close: drained (what an open turn means is the turn
  state's call, :meth:`jobrunner.protocol.turns.TurnSession.finish`). 1000 before our close:
  :class:`DrainError`, the server stopped before it heard all the audio. Any other code, or
  none at all (1006): :class:`ConnectionLostError`.
* **Success** needs all of it: our close sent, the server's 1000 after it, and nothing failed
  on the way. Anything else is a failure, never a success with a truncated transcript.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from jobrunner.errors import ConnectionLostError, DrainError, SessionError, StallError

NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
"""Our close when the session was cancelled (job cancelled, shutdown)."""
ABNORMAL_CLOSURE: Final = 1006
"""No close frame was received (RFC 6455): the connection dropped, or our close timed out."""
INTERNAL_ERROR: Final = 1011
"""Our close when the session failed on our side."""


class Phase(enum.Enum):
    STREAMING = "streaming"
    DRAINING = "draining"
    CLOSED = "closed"


@dataclass(frozen=True)
class Progress:
    """How far the session got, for the messages of the errors it ends with."""

    audio_s_sent: float
    duration_s: float
    turns: int
    request_id: str | None = None


@dataclass
class Lifecycle:
    """One connection's close and drain state. Times are seconds on the caller's clock."""

    stall_timeout_s: float
    drain_timeout_s: float
    close_sent_at: float | None = None
    last_event_at: float | None = None
    """The last event received while draining (events while streaming set no deadline)."""
    closed_at: float | None = None
    close_code: int | None = None
    """How the server ended it (1006: no close frame); None while open or when we closed."""
    close_reason: str = ""

    @property
    def phase(self) -> Phase:
        if self.closed_at is not None:
            return Phase.CLOSED
        return Phase.STREAMING if self.close_sent_at is None else Phase.DRAINING

    @property
    def close_sent(self) -> bool:
        return self.close_sent_at is not None

    def sent_close(self, now: float) -> None:
        """Our ``{"type": "close"}`` went out: all audio is sent, the drain begins."""
        self.close_sent_at = now

    def received_event(self, now: float) -> None:
        if self.phase is Phase.DRAINING:
            self.last_event_at = now

    def server_closed(self, code: int, reason: str, now: float) -> None:
        """The connection is closed (``code`` 1006 when no close frame came)."""
        self.close_code, self.close_reason, self.closed_at = code, reason, now

    def deadline(self) -> float:
        """When to stop waiting for the next frame: never while streaming."""
        if self.close_sent_at is None or self.closed_at is not None:
            return math.inf
        quiet_since = max(self.close_sent_at, self.last_event_at or self.close_sent_at)
        return min(quiet_since + self.stall_timeout_s, self.close_sent_at + self.drain_timeout_s)

    def timeout_error(self, now: float, progress: Progress) -> SessionError:
        """The error for a receive that passed :meth:`deadline` at ``now``."""
        if self.close_sent_at is None:
            raise RuntimeError("no deadline applies before our close")
        sent = f"{progress.audio_s_sent:.1f} s of audio sent"
        if now >= self.close_sent_at + self.drain_timeout_s:
            return DrainError(
                f"drain not finished {self.drain_timeout_s:g} s after our close "
                f"({sent}, {progress.turns} turns so far)",
                request_id=progress.request_id,
            )
        return StallError(
            f"server silent for {self.stall_timeout_s:g} s after our close ({sent})",
            request_id=progress.request_id,
        )

    def close_error(self, progress: Progress) -> SessionError | None:
        """What the server's close means: ``None`` for a completed drain, else the failure."""
        code, reason = self.close_code, self.close_reason
        if code is None:
            raise RuntimeError("the connection is still open")
        if code == NORMAL_CLOSURE and self.close_sent:
            return None
        why = f"close code {code}{f' ({reason})' if reason else ''}"
        sent = f"{progress.audio_s_sent:.1f} of {progress.duration_s:.1f} s of audio sent"
        if code == NORMAL_CLOSURE:
            return DrainError(
                f"server closed the session ({why}) before our close; {sent}",
                close_code=code,
                request_id=progress.request_id,
            )
        when = "after" if self.close_sent else "before"
        return ConnectionLostError(
            f"connection lost: {why}, {when} our close; {sent}",
            close_code=code,
            request_id=progress.request_id,
        )

    @property
    def drained(self) -> bool:
        """Our close was sent and the server then closed with 1000."""
        sent, closed = self.close_sent_at, self.closed_at
        return (
            sent is not None
            and closed is not None
            and sent <= closed
            and self.close_code == NORMAL_CLOSURE
        )

    @property
    def drain_s(self) -> float | None:
        """From our close to the server's close."""
        if self.close_sent_at is None or self.closed_at is None:
            return None
        return self.closed_at - self.close_sent_at

    def succeeded(self, failure: BaseException | None) -> bool:
        """The success rule: drained, and nothing failed on the way."""
        return failure is None and self.drained


__all__ = [
    "ABNORMAL_CLOSURE",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "NORMAL_CLOSURE",
    "Lifecycle",
    "Phase",
    "Progress",
]
