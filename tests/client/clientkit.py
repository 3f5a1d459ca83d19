"""Helpers of the client tests (pytest puts this folder on ``sys.path``, as ``clientkit``)."""

from __future__ import annotations

from typing import Any

from jobrunner.config import Settings
from jobrunner.server import LocalServer
from jobrunner.server.tones import TurnSpec, turn_texts

#: an in-turn pause (eager_end + resume), leading spaces, an empty turn, non-ASCII text
TURNS: list[TurnSpec] = ["Hello there.", [" How are", " you?"], "", " Ünïcode ok"]
EXPECTED = "".join(turn_texts(TURNS))


def fast(server: LocalServer, **changes: Any) -> Settings:
    """Settings for a quick session against ``server``: 20x pace, short timeouts, tiny backoff."""
    base: dict[str, Any] = {
        "base_url": server.url,
        "pace": 20.0,
        "connect_tries": 2,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.02,
        "open_timeout_s": 5.0,
        "stall_timeout_s": 5.0,
        "drain_timeout_s": 5.0,
    }
    base.update(changes)
    return Settings(**base)
