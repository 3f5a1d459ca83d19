"""The client's view of one Auto-endpoint session: turn state, turn records, joined transcript.

Sans-I/O: :meth:`TurnSession.receive` is fed parsed server events together with two facts only
the caller knows — how many seconds of audio had been sent when the event arrived and the
monotonic receive time — and returns the completed :class:`Turn` on ``turn.end``. No event
carries timing (protocol.md section 4), so those two numbers are all the timing there is.

Turn states, the one table (:data:`TRANSITIONS`)::

    idle --turn.start--> speaking --turn.eager_end--> eager --turn.resume--> speaking
    speaking | eager --turn.end--> idle
    speaking | eager --turn.update--> (unchanged)

Anything else raises :class:`ProtocolViolationError` naming the event and the state (retryable:
the next attempt is a new session). Decisions where the contract is silent:

* ``turn.update`` in ``eager`` is legal and keeps the state: the text may still grow before the
  ``resume``/``end`` that settles the preview.
* ``connected`` is optional, but if it comes it must be the first event and come once.
* Cumulative text that does not extend the previous one (the contract says text is only
  extended) is tolerated and counted in :attr:`Turn.revisions` and logged at debug: a quirk of the
  real service must not fail a three-hour job, and ``turn.end`` is definitive anyway.
* A ``turn.end`` with an empty transcript is a legal, empty turn; its text stays empty.
* Unknown event types are kept (the first :data:`MAX_UNKNOWN_KEPT`), counted, and logged once per
  type; they never change the state.
* An ``error`` event is terminal: :meth:`receive` raises :class:`RequestRejectedError` for a
  4xx status and :class:`ServerErrorEvent` (retryable) for 5xx, a missing status or anything
  else; every later event is a violation.
* At the server's normal close after ours (the drain is complete: the server has nothing more
  to say), :meth:`TurnSession.finish` drops an open turn without text (noise at the very end)
  and ends an open turn with text there: its last cumulative text becomes its transcript and
  :attr:`Turn.ended_by` says ``"close"`` (livekit's Cartesia plugin falls back to the last
  update text the same way). Failing the session instead would fail every retry the same way
  and lose a long file for a few words; a close that is not normal still fails the session
  (:mod:`jobrunner.protocol.lifecycle`).

The joined transcript is the final texts of the turns concatenated verbatim (``turn.end`` text,
or the last text of a turn ended by the close): no strip, no separator. ``turn.update`` and
``turn.eager_end`` text of an open turn is state (:attr:`TurnSession.current_text`), never
appended anywhere.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Final, Literal

from jobrunner.errors import (
    ProtocolViolationError,
    RequestRejectedError,
    ServerErrorEvent,
)
from jobrunner.protocol.events import (
    Connected,
    ErrorEvent,
    ServerEvent,
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
    UnknownEvent,
)

logger = logging.getLogger(__name__)

MAX_UNKNOWN_KEPT: Final = 1000
"""Unknown events kept verbatim; later ones are only counted (bounded memory on long streams)."""


class TurnState(enum.Enum):
    IDLE = "idle"
    SPEAKING = "speaking"
    EAGER = "eager"


_I, _S, _E = TurnState.IDLE, TurnState.SPEAKING, TurnState.EAGER

TRANSITIONS: Final[dict[tuple[TurnState, str], TurnState]] = {
    (_I, "turn.start"): _S,
    (_S, "turn.update"): _S,
    (_E, "turn.update"): _E,
    (_S, "turn.eager_end"): _E,
    (_E, "turn.resume"): _S,
    (_S, "turn.end"): _I,
    (_E, "turn.end"): _I,
}
"""(state, event type) -> next state. A pair not listed is a protocol violation."""

TurnEnding = Literal["turn.end", "close", "flush_done", "done"]
"""How a turn ended: its ``turn.end`` event, or the server's normal close with the turn open;
on the Manual endpoint, the ``flush_done`` of its finalize or the ``done`` of the close."""


@dataclass
class Turn:
    """One turn. ``*_audio_s``: audio seconds sent when the event arrived; ``*_at``: monotonic
    receive time. ``eager_end_*`` is the *last* eager end (the one ``turn.end`` confirmed)."""

    index: int
    start_audio_s: float
    start_at: float
    transcript: str = ""
    """The ``turn.end`` text, verbatim (may be empty, usually begins with a space); for a turn
    ended by the close, its last cumulative text."""
    ended_by: TurnEnding | None = None
    """``"turn.end"`` or ``"close"``; None while the turn is open."""
    updates: int = 0
    eager_ends: int = 0
    resumes: int = 0
    revisions: int = 0
    """Cumulative texts that did not extend the previous one (tolerated, see module doc)."""
    first_update_audio_s: float | None = None
    first_update_at: float | None = None
    eager_end_audio_s: float | None = None
    eager_end_at: float | None = None
    end_audio_s: float | None = None
    end_at: float | None = None


@dataclass
class TurnSession:
    """State of one connection as the client sees it. Feed every server event to
    :meth:`receive`; call :meth:`finish` when the server has closed normally after our close."""

    state: TurnState = TurnState.IDLE
    request_id: str | None = None
    connected: bool = False
    turns: list[Turn] = field(default_factory=list)
    current_text: str = ""
    """Cumulative text of the open turn ("" when idle). Replaced on each update, never appended."""
    unknown: list[UnknownEvent] = field(default_factory=list)
    unknown_count: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    error: ErrorEvent | None = None
    _open: Turn | None = field(default=None, repr=False)

    @property
    def transcript(self) -> str:
        """The joined transcript: the completed turns' final texts, verbatim, nothing else."""
        return "".join(turn.transcript for turn in self.turns)

    @property
    def ended_by_close(self) -> int:
        """Completed turns that the server's close ended (see :meth:`finish`)."""
        return sum(turn.ended_by == "close" for turn in self.turns)

    @property
    def open_turn(self) -> Turn | None:
        """The turn in progress (its ``transcript`` is filled only at ``turn.end``)."""
        return self._open

    def receive(self, event: ServerEvent, *, audio_s: float, at: float) -> Turn | None:
        """Apply one server event. Returns the completed :class:`Turn` on ``turn.end``.

        Raises :class:`ProtocolViolationError` for an event the state does not allow, and
        :class:`ServerErrorEvent`/:class:`RequestRejectedError` for an ``error`` event.
        """
        kind = event.type
        if self.error is not None:
            raise self._violation(kind, "after an error event")
        first = not self.event_counts
        self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
        self._note_request_id(event.request_id)
        if isinstance(event, ErrorEvent):
            self.error = event
            raise self._error(event)
        if isinstance(event, Connected):
            if not first:
                raise self._violation(kind, "not as the first event")
            self.connected = True
            return None
        if isinstance(event, UnknownEvent):
            self._keep_unknown(event)
            return None
        next_state = TRANSITIONS.get((self.state, kind))
        if next_state is None:
            raise self._violation(kind, f"in state {self.state.value}")
        turn = self._apply(event, audio_s, at)
        self.state = next_state
        return turn

    def finish(self, *, audio_s: float, at: float) -> Turn | None:
        """The server closed normally after our close; ``audio_s``/``at`` as for an event.

        An open turn without text is dropped; one with text ends here, by the close, keeping its
        last cumulative text (module docstring). Returns that turn, or None.
        """
        turn, text = self._open, self.current_text
        self.state = TurnState.IDLE
        if turn is None:
            return None
        if not text:
            logger.debug("server closed with empty turn %d open; dropped", turn.index)
            self._open, self.current_text = None, ""
            return None
        logger.warning(
            "server closed with turn %d open; its last text (%d characters) is kept as its "
            "transcript",
            turn.index,
            len(text),
        )
        self._end(turn, text, "close", audio_s, at)
        return turn

    # --- internals ------------------------------------------------------------------------

    def _apply(self, event: ServerEvent, audio_s: float, at: float) -> Turn | None:
        if isinstance(event, TurnStart):
            self._open = Turn(index=len(self.turns), start_audio_s=audio_s, start_at=at)
            self.current_text = ""
            return None
        turn = self._open
        if turn is None:  # unreachable through TRANSITIONS; keeps the invariant explicit
            raise self._violation(event.type, "with no open turn")
        if isinstance(event, TurnUpdate):
            turn.updates += 1
            if turn.first_update_at is None:
                turn.first_update_audio_s, turn.first_update_at = audio_s, at
            self._extend(turn, event.transcript, event.type)
        elif isinstance(event, TurnEagerEnd):
            turn.eager_ends += 1
            turn.eager_end_audio_s, turn.eager_end_at = audio_s, at
            self._extend(turn, event.transcript, event.type)
        elif isinstance(event, TurnResume):
            turn.resumes += 1
        elif isinstance(event, TurnEnd):
            self._extend(turn, event.transcript, event.type)
            self._end(turn, event.transcript, "turn.end", audio_s, at)
            return turn
        return None

    def _end(self, turn: Turn, text: str, ended_by: TurnEnding, audio_s: float, at: float) -> None:
        turn.transcript, turn.ended_by = text, ended_by
        turn.end_audio_s, turn.end_at = audio_s, at
        self.turns.append(turn)
        self._open, self.current_text = None, ""

    def _extend(self, turn: Turn, text: str, kind: str) -> None:
        if not text.startswith(self.current_text):
            turn.revisions += 1
            logger.debug(
                "%s revised the text of turn %d (%d -> %d chars); tolerated",
                kind,
                turn.index,
                len(self.current_text),
                len(text),
            )
        self.current_text = text

    def _note_request_id(self, request_id: str | None) -> None:
        if request_id is None:
            return
        if self.request_id is None:
            self.request_id = request_id
        elif request_id != self.request_id:
            logger.warning(
                "server changed request_id mid-connection (%s -> %s); keeping the first",
                self.request_id,
                request_id,
            )

    def _keep_unknown(self, event: UnknownEvent) -> None:
        self.unknown_count += 1
        if len(self.unknown) < MAX_UNKNOWN_KEPT:
            self.unknown.append(event)
        if self.event_counts[event.type] == 1:
            logger.warning("ignoring unknown server event type %r", event.type)

    def _violation(self, kind: str, where: str) -> ProtocolViolationError:
        turn = f", turn {self._open.index}" if self._open is not None else ""
        return ProtocolViolationError(
            f"server sent {kind} {where}{turn}", request_id=self.request_id
        )

    def _error(self, event: ErrorEvent) -> ServerErrorEvent:
        status = event.status_code
        label = f"{status}" if status is not None else "no status"
        title = f" {event.title}:" if event.title and event.title != event.message else ""
        message = f"server error event ({label}){title} {event.message}"
        cls = (
            RequestRejectedError if status is not None and 400 <= status < 500 else ServerErrorEvent
        )
        return cls(message, http_status=status, request_id=event.request_id or self.request_id)
