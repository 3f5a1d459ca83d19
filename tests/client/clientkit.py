"""The client tests' audio with known text (pytest puts this folder on ``sys.path``); their
settings come from ``helpers.fast_settings``."""

from __future__ import annotations

from jobrunner.server.tones import TurnSpec, turn_texts

#: an in-turn pause (eager_end + resume), leading spaces, an empty turn, non-ASCII text
TURNS: list[TurnSpec] = ["Hello there.", [" How are", " you?"], "", " Ünïcode ok"]
EXPECTED = "".join(turn_texts(TURNS))
