"""The Auto endpoint's parameter limits and defaults, written once, as data.

protocol.md section 2 and the official SDK's docstrings are the source. Both sides read these
values and check them with their own code: the client's handshake
(:meth:`jobrunner.protocol.handshake.StreamParams.validate`) refuses a bad setting before it
connects, the bundled server (:mod:`jobrunner.server.params`) answers it with a 400 ``error``
event as the service does. Sharing the numbers keeps the two from drifting apart; keeping the
checks apart means a bug in one is caught by the other instead of being mirrored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

MODELS: Final = ("ink-2",)
"""Models the Auto endpoint serves."""

ENCODINGS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "pcm_s16le": 2,
        "pcm_s32le": 4,
        "pcm_f16le": 2,
        "pcm_f32le": 4,
        "pcm_mulaw": 1,
        "pcm_alaw": 1,
    }
)
"""Wire encodings and their bytes per (mono) sample."""

MIN_SAMPLE_RATE: Final = 8000
MAX_SAMPLE_RATE: Final = 48000
"""``sample_rate`` in Hz, inclusive."""

MAX_KEYTERMS: Final = 100
MAX_KEYTERM_CHARS: Final = 1200
"""``keyterm``: at most this many terms, and this many characters over all terms."""


@dataclass(frozen=True)
class Range:
    """An optional numeric parameter: the service's default when it is not sent, and the
    inclusive range it accepts."""

    default: float
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


TURN_START_THRESHOLD: Final = Range(default=0.8, low=0.5, high=0.9)
TURN_EAGER_END_THRESHOLD: Final = Range(default=0.4, low=0.3, high=0.6)
TURN_END_THRESHOLD: Final = Range(default=0.2, low=0.05, high=0.5)
TURN_END_TIMEOUT_MS: Final = Range(default=5600.0, low=640.0, high=11200.0)

TURN_PARAMETERS: Final[Mapping[str, Range]] = MappingProxyType(
    {
        "turn_start_threshold": TURN_START_THRESHOLD,
        "turn_eager_end_threshold": TURN_EAGER_END_THRESHOLD,
        "turn_end_threshold": TURN_END_THRESHOLD,
        "turn_end_timeout_ms": TURN_END_TIMEOUT_MS,
    }
)
"""Query parameter -> its range. The thresholds must also keep start > eager end > end once
the defaults are filled in (the service's reference: the eager end threshold "must stay
between the end and start thresholds")."""

__all__ = [
    "ENCODINGS",
    "MAX_KEYTERMS",
    "MAX_KEYTERM_CHARS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "MODELS",
    "Range",
    "TURN_EAGER_END_THRESHOLD",
    "TURN_END_THRESHOLD",
    "TURN_END_TIMEOUT_MS",
    "TURN_PARAMETERS",
    "TURN_START_THRESHOLD",
]
