"""The client's view of one Manual-endpoint session: one turn per ``finalize``, sans I/O.

The caller reports what it sent (:meth:`ManualSession.finalize_sent`,
:meth:`ManualSession.close_sent`) and feeds every parsed event to :meth:`ManualSession.receive`
with the two facts only it knows (audio seconds sent when the event arrived, monotonic receive
time), as for :class:`~jobrunner.protocol.turns.TurnSession`, whose bookkeeping (request id,
unknown events, error events) this reuses. Rules:

* A turn opens at the first ``transcript`` after the previous turn ended: its
  ``start_audio_s``/``start_at``. Interim chunks are counted like ``turn.update`` (``updates``,
  first arrival); their text is only :attr:`current_text`, never appended. Finals are appended
  verbatim to the turn's text and their words to its words; ``end_audio_s``/``end_at`` are the
  last final's arrival (so ``end_latency_s`` runs from the end of speech to the final).
* ``flush_done`` ends the open turn (``ended_by="flush_done"``): the finals between a
  ``finalize`` and its ``flush_done`` are one turn. A ``flush_done`` with no turn open ends
  nothing (a finalize over silence); one with no ``finalize`` outstanding is a violation.
* ``done`` is legal only after our ``close``; it ends the open turn (``ended_by="done"``).
  Interim text after the last final at ``done`` is a bad answer: the service previewed words it
  never finalized, so the transcript would silently lack them (:class:`ProtocolViolationError`,
  retryable). Any event after ``done`` is a violation.
* At the server's close (:meth:`finish`) ``done`` must have come: a normal close without it is a
  :class:`DrainError`, retryable (the finals after our close may be missing).

The transcript is the turns' texts joined verbatim, which is every final text in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from jobrunner.errors import DrainError, ProtocolViolationError
from jobrunner.protocol.events import ErrorEvent, ServerEvent, UnknownEvent
from jobrunner.protocol.manual import Done, FlushDone, ManualEvent, ManualTranscript
from jobrunner.protocol.turns import Turn, TurnEnding, TurnSession, TurnState
from jobrunner.protocol.words import Word

logger = logging.getLogger(__name__)


@dataclass
class ManualTurn(Turn):
    """A Manual turn: the finals of one ``finalize`` (or of the close), with their words."""

    finals: int = 0
    words: list[Word] | None = None
    """Every final's words in order; None when no final carried any."""


@dataclass
class ManualSession(TurnSession):
    """State of one Manual connection; see the module docstring for the rules."""

    finalizes_pending: int = 0
    closing: bool = False
    done: bool = False
    language: str | None = None
    """The last language a transcript reported."""
    _interim_after_final: str = field(default="", repr=False)

    def finalize_sent(self) -> None:
        self.finalizes_pending += 1

    def close_sent(self) -> None:
        self.closing = True

    def receive(
        self, event: ManualEvent | ServerEvent, *, audio_s: float, at: float
    ) -> Turn | None:
        """Apply one event; returns the turn it ended, if any. Raises like
        :meth:`TurnSession.receive` (violations, error events)."""
        kind = event.type
        if self.error is not None:
            raise self._violation(kind, "after an error event")
        if self.done:
            raise self._violation(kind, "after done")
        self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
        self._note_request_id(event.request_id)
        if isinstance(event, ErrorEvent):
            self.error = event
            raise self._error(event)
        if isinstance(event, ManualTranscript):
            self._transcript(event, audio_s, at)
            return None
        if isinstance(event, FlushDone):
            if self.finalizes_pending <= 0:
                raise self._violation(kind, "with no finalize outstanding")
            self.finalizes_pending -= 1
            return self._end_open("flush_done", audio_s, at)
        if isinstance(event, Done):
            if not self.closing:
                raise self._violation(kind, "before our close")
            if self._interim_after_final:
                raise ProtocolViolationError(
                    f"done came with interim text after the last final, never finalized: "
                    f"{self._interim_after_final[:80]!r}",
                    request_id=self.request_id,
                )
            self.done = True
            return self._end_open("done", audio_s, at)
        if isinstance(event, UnknownEvent):
            self._keep_unknown(event)
            return None
        raise self._violation(kind, "on the Manual endpoint")

    def finish(self, *, audio_s: float, at: float) -> Turn | None:
        """The server closed normally after our close: ``done`` must have come first."""
        if not self.done:
            raise DrainError(
                f"server closed the session without done after our close ({audio_s:.1f} s of "
                f"audio sent, {len(self.turns)} turns so far)",
                request_id=self.request_id,
            )
        return None

    def _transcript(self, event: ManualTranscript, audio_s: float, at: float) -> None:
        turn = self._open
        if turn is None:
            turn = ManualTurn(index=len(self.turns), start_audio_s=audio_s, start_at=at)
            self._open, self.current_text, self.state = turn, "", TurnState.SPEAKING
        assert isinstance(turn, ManualTurn)
        if event.language is not None:
            self.language = event.language
        if not event.is_final:
            turn.updates += 1
            if turn.first_update_at is None:
                turn.first_update_audio_s, turn.first_update_at = audio_s, at
            self.current_text = turn.transcript + event.text
            self._interim_after_final = event.text
            return
        turn.finals += 1
        turn.transcript += event.text
        turn.end_audio_s, turn.end_at = audio_s, at
        if event.words is not None:
            turn.words = (turn.words or []) + list(event.words)
        self.current_text = turn.transcript
        self._interim_after_final = ""

    def _end_open(self, ending: TurnEnding, audio_s: float, at: float) -> Turn | None:
        turn = self._open
        self.state = TurnState.IDLE
        if turn is None:
            return None
        turn.ended_by = ending
        if turn.end_at is None:  # interim chunks only: the turn ends empty, here
            turn.end_audio_s, turn.end_at = audio_s, at
        self.turns.append(turn)
        self._open, self.current_text = None, ""
        return turn


__all__ = ["ManualSession", "ManualTurn"]
