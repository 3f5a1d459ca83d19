"""Silent damage to a session's turns: the faults ``drop_text`` and ``end_early``.

A session can lose speech without any error event, and the client only finds out by comparing
the turns with the audio (the coverage check, :mod:`jobrunner.timing.coverage`). These faults
produce exactly that, sans I/O: the connection hands every batch of outgoing events through
:meth:`TurnDamage.apply` with the audio seconds received so far, and sends what comes back.

* ``drop_text``: the first turn whose ``turn.start`` goes out once ``at_s`` seconds of audio
  arrived loses its text: its ``turn.update`` events are withheld and its ``turn.eager_end``
  and ``turn.end`` carry an empty transcript. The turn itself (start, eager end, resume, end)
  is still reported, so the client sees a well-formed, empty turn.
* ``end_early``: every turn whose ``turn.start`` goes out once ``at_s`` seconds arrived is
  withheld entirely, as if the recognizer had stopped there; a turn already open goes on.
  The session flushes and closes normally.

A damaged turn's word times (:class:`~jobrunner.server.words.TurnWords`) go with its text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from jobrunner.protocol.events import (
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
)
from jobrunner.server.faults import DEFAULT_AT_S, SILENT_KINDS, Fault
from jobrunner.server.words import EngineEvent, TurnWords

_TURN_EVENTS: Final = (TurnStart, TurnUpdate, TurnEagerEnd, TurnResume, TurnEnd, TurnWords)


class TurnDamage:
    """One session's silent damage. ``fired`` turns true with the first turn it damages."""

    def __init__(self, fault: Fault) -> None:
        if fault.kind not in SILENT_KINDS:
            raise ValueError(f"{fault.kind} is not a silent damage fault")
        self.fault = fault
        self.at_s = DEFAULT_AT_S if fault.at_s is None else fault.at_s
        self.fired = False
        self._damaging = False  # the open turn is the damaged one

    def apply(self, events: Sequence[EngineEvent], audio_s: float) -> list[EngineEvent]:
        """``events`` as the damaged session sends them, ``audio_s`` seconds into the audio."""
        out: list[EngineEvent] = []
        for event in events:
            if isinstance(event, TurnStart):
                self._damaging = self._chooses(audio_s)
                self.fired = self.fired or self._damaging
            if not self._damaging or not isinstance(event, _TURN_EVENTS):
                out.append(event)
            elif self.fault.kind == "drop_text":
                if isinstance(event, TurnEagerEnd | TurnEnd):
                    out.append(dataclasses.replace(event, transcript=""))
                elif not isinstance(event, TurnUpdate | TurnWords):
                    out.append(event)
            if isinstance(event, TurnEnd):
                self._damaging = False
        return out

    def _chooses(self, audio_s: float) -> bool:
        if audio_s < self.at_s:
            return False
        return self.fault.kind == "end_early" or not self.fired


__all__ = ["TurnDamage"]
