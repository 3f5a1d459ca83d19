"""Server-side turn detection from a stream of per-frame speech probabilities.

Engines (the tones decoder, the whisper recognizer) score fixed-size frames of audio with a
speech probability (an energy gate, the silero VAD ...) and push the scores here; the detector
answers with turn decisions placed at sample positions. It knows nothing of audio, text,
sockets or clocks, so one table of rules serves every engine::

    detector = TurnDetector(DetectorConfig(sample_rate=16000, frame_samples=512), TurnParams())
    for prob in probabilities:                        # one score per frame, in stream order
        for d in detector.push(prob):                 # TurnDecision(kind, at, start, end)
            ...                                       # kind: start | eager_end | resume | end
    detector.configure(TurnParams(end_threshold=0.1)) # a ``config`` message (None = keep)
    detector.finish()                                 # end of audio: ends an open turn

    detector.keep_from   # earliest sample an engine must still hold (pre-roll, open turn)

Rules (``state``: idle -> pending -> speaking <-> eager -> idle):

- A frame is *speech* at or above ``speech_threshold``; once a turn is open, a frame is
  *silence* only below ``silence_threshold`` (hysteresis). In ``eager`` a frame must reach
  ``speech_threshold`` again to resume.
- ``pending``: speech accumulates; silence longer than ``start_gap_ms`` abandons the run.
  ``start`` fires when the run holds the start duration of speech; the turn's audio begins
  ``preroll_ms`` before the run.
- In a turn, silence since the last speech frame first reaches the eager duration
  (``eager_end``, if it is shorter than the end duration), then the end duration (``end``).

The service's turn parameters are probabilities of a turn model we do not have; they map onto
durations so that the defaults give the measured VAD settings (start after 160 ms of speech,
end after 600 ms of silence) and moving a threshold moves the duration the way the service
documents (a higher start threshold needs more speech, a lower end threshold more silence)::

    start speech   = start_ms * ln(1 - start_threshold) / ln(1 - 0.8)     0.5 -> 69 ms, 0.9 -> 229
    eager silence  = end_ms * ln(eager_end_threshold) / ln(0.2)           0.4 -> 342 ms
    end silence    = min(end_ms * ln(end_threshold) / ln(0.2),            0.2 -> 600 ms,
                         end_timeout_ms)                                   0.05 -> 1117 ms

``end_timeout_ms`` is, as documented by the service, the longest wait after the speaker
stops, so it only caps the end silence. A run still pending at :meth:`finish` is dropped: it
was too short to be a turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeVar

from jobrunner.protocol.events import ConfigRequest
from jobrunner.protocol.limits import (
    TURN_EAGER_END_THRESHOLD,
    TURN_END_THRESHOLD,
    TURN_END_TIMEOUT_MS,
    TURN_START_THRESHOLD,
)

DecisionKind = Literal["start", "eager_end", "resume", "end"]
DetectorState = Literal["idle", "pending", "speaking", "eager"]


@dataclass(frozen=True)
class TurnParams:
    """The service's turn settings (query parameters or a ``config`` message); None = default."""

    start_threshold: float | None = None
    eager_end_threshold: float | None = None
    end_threshold: float | None = None
    end_timeout_ms: float | None = None

    def merged(self, request: ConfigRequest | TurnParams) -> TurnParams:
        """These params with the fields ``request`` sets replacing ours."""
        return TurnParams(
            start_threshold=_pick(request.start_threshold, self.start_threshold),
            eager_end_threshold=_pick(request.eager_end_threshold, self.eager_end_threshold),
            end_threshold=_pick(request.end_threshold, self.end_threshold),
            end_timeout_ms=_pick(request.end_timeout_ms, self.end_timeout_ms),
        )

    def resolved(self) -> tuple[float, float, float, float]:
        """(start, eager_end, end, end_timeout_ms) with the service defaults filled in."""
        return (
            _pick(self.start_threshold, TURN_START_THRESHOLD.default),
            _pick(self.eager_end_threshold, TURN_EAGER_END_THRESHOLD.default),
            _pick(self.end_threshold, TURN_END_THRESHOLD.default),
            _pick(self.end_timeout_ms, TURN_END_TIMEOUT_MS.default),
        )


_T = TypeVar("_T")


def _pick(value: _T | None, fallback: _T) -> _T:
    return fallback if value is None else value


@dataclass(frozen=True)
class DetectorConfig:
    """How an engine's frames and probabilities are judged (not set by clients)."""

    sample_rate: int
    frame_samples: int
    speech_threshold: float = 0.5
    silence_threshold: float = 0.35
    start_ms: float = 160.0
    end_ms: float = 600.0
    preroll_ms: float = 200.0
    start_gap_ms: float = 100.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.frame_samples <= 0:
            raise ValueError("sample_rate and frame_samples must be positive")
        if self.silence_threshold > self.speech_threshold:
            raise ValueError("silence_threshold must not exceed speech_threshold")


@dataclass(frozen=True)
class TurnDecision:
    """One turn transition, in samples from the start of the stream.

    ``at`` is where the decision was taken (end of the frame that triggered it). ``start`` is
    the first sample of the turn's audio, pre-roll included. ``end`` is the end of the turn's
    last speech frame for ``eager_end``/``end``, and equals ``at`` for ``start``/``resume``.
    The turn's audio is ``[start, end)``.
    """

    kind: DecisionKind
    at: int
    start: int
    end: int


@dataclass(frozen=True)
class Durations:
    """The turn parameters as sample counts (see the module docstring for the mapping)."""

    start: int
    eager: int | None
    end: int


def durations(config: DetectorConfig, params: TurnParams) -> Durations:
    start_th, eager_th, end_th, timeout_ms = params.resolved()
    per_ms = config.sample_rate / 1000.0
    start_ms = config.start_ms * math.log(1.0 - start_th) / math.log(1.0 - 0.8)
    eager_ms = config.end_ms * math.log(eager_th) / math.log(0.2)
    end_ms = min(config.end_ms * math.log(end_th) / math.log(0.2), timeout_ms)
    start = max(1, round(start_ms * per_ms))
    end = max(1, round(end_ms * per_ms))
    eager = round(eager_ms * per_ms)
    return Durations(start=start, eager=eager if 0 < eager < end else None, end=end)


class TurnDetector:
    """The turn state machine of one stream. Pure: push scores, get decisions."""

    def __init__(self, config: DetectorConfig, params: TurnParams | None = None) -> None:
        self.config = config
        self.params = params or TurnParams()
        self._d = durations(config, self.params)
        self._preroll = round(config.preroll_ms * config.sample_rate / 1000.0)
        self._start_gap = round(config.start_gap_ms * config.sample_rate / 1000.0)
        self.state: DetectorState = "idle"
        self.position = 0
        self._run_start = 0  # pending: first sample of the speech run
        self._run_speech = 0  # pending: speech samples so far
        self._run_gap = 0  # pending: silence since the last speech frame
        self._turn_start = 0  # open turn: first sample incl. pre-roll
        self._speech_end = 0  # open turn: end of the last speech frame

    @property
    def durations(self) -> Durations:
        return self._d

    @property
    def keep_from(self) -> int:
        """Earliest sample a later decision can refer to; older audio may be dropped."""
        if self.state in ("speaking", "eager"):
            return self._turn_start
        if self.state == "pending":
            return max(0, self._run_start - self._preroll)
        return max(0, self.position - self._preroll)

    def configure(self, params: TurnParams | ConfigRequest) -> None:
        """Apply a ``config`` message from the next frame on (unset fields keep their value)."""
        self.params = self.params.merged(params)
        self._d = durations(self.config, self.params)

    def push(self, prob: float, samples: int | None = None) -> list[TurnDecision]:
        """Judge the next frame (``samples`` long, default a full frame; shorter at the end)."""
        n = self.config.frame_samples if samples is None else samples
        frame_start = self.position
        self.position += n
        at = self.position
        cfg = self.config
        if self.state == "idle":
            if prob >= cfg.speech_threshold:
                self.state = "pending"
                self._run_start, self._run_speech, self._run_gap = frame_start, n, 0
                return self._maybe_start(at)
            return []
        if self.state == "pending":
            if prob >= cfg.speech_threshold:
                self._run_speech += n
                self._run_gap = 0
                return self._maybe_start(at)
            self._run_gap += n
            if self._run_gap >= self._start_gap:
                self.state = "idle"
            return []
        if self.state == "speaking":
            if prob >= cfg.silence_threshold:
                self._speech_end = at
                return []
            return self._silence(at)
        # eager
        if prob >= cfg.speech_threshold:
            self.state = "speaking"
            self._speech_end = at
            return [TurnDecision("resume", at, self._turn_start, at)]
        return self._silence(at)

    def finish(self) -> list[TurnDecision]:
        """End of audio: an open turn ends at its last speech; a pending run is dropped."""
        if self.state in ("speaking", "eager"):
            self.state = "idle"
            return [TurnDecision("end", self.position, self._turn_start, self._speech_end)]
        self.state = "idle"
        return []

    def _maybe_start(self, at: int) -> list[TurnDecision]:
        if self._run_speech < self._d.start:
            return []
        self.state = "speaking"
        self._turn_start = max(0, self._run_start - self._preroll)
        self._speech_end = at
        return [TurnDecision("start", at, self._turn_start, at)]

    def _silence(self, at: int) -> list[TurnDecision]:
        silent = at - self._speech_end
        if silent >= self._d.end:
            self.state = "idle"
            return [TurnDecision("end", at, self._turn_start, self._speech_end)]
        if self.state == "speaking" and self._d.eager is not None and silent >= self._d.eager:
            self.state = "eager"
            return [TurnDecision("eager_end", at, self._turn_start, self._speech_end)]
        return []


__all__ = [
    "DecisionKind",
    "DetectorConfig",
    "DetectorState",
    "Durations",
    "TurnDecision",
    "TurnDetector",
    "TurnParams",
    "durations",
]
