"""The deterministic "tones" engine: audio that spells its own transcript.

Tests need a recognizer whose output is known exactly, byte for byte, including unicode,
leading spaces and punctuation. So text is *encoded* into audio and the engine decodes it:

- Each UTF-8 byte of a turn is one **symbol**: two simultaneous tones, the high nibble picks
  one of 16 low frequencies (500-1437.5 Hz), the low nibble one of 16 high frequencies
  (1900-2837.5 Hz), spaced 62.5 Hz = 1 / 16 ms so neighbours fall on each other's nulls
  over the 16 ms analysis window. A symbol sounds for 20 ms and is followed by 5 ms of
  silence: 40 bytes per second, everything below 3 kHz so 8 kHz audio carries it.
- Every turn opens with a 250 ms **hum** (one 300 Hz tone): it is speech to the voice
  detector, so even a one-letter or empty turn lasts long enough to start a turn at any start
  threshold, but it is no symbol (too long), so it adds no text.
- Between turns ``gap_s`` of silence (0.9 s: longer than the 600 ms end silence); inside a
  turn, parts given as a sequence are separated by ``pause_s`` (0.45 s: longer than the
  342 ms eager-end silence, shorter than the end silence), which gives ``turn.eager_end``
  then ``turn.resume``.

The decoder finds symbols from the energy envelope (1 ms hops), measures each tone burst's
length, and reads the two frequencies with single-bin DFTs (Goertzel) over 16 ms at its
centre. It works at whatever rate the session declares, so the same text survives every wire
encoding, resampling to 8/44.1/48 kHz, and any chunking. Turns come from the shared
:class:`~jobrunner.server.turn_detector.TurnDetector` fed with a 10 ms energy gate. Events are a
function of the audio alone: the session never judges a frame before every symbol that could
start in it has been decoded, so chunk sizes and pacing change nothing.

Encoder::

    audio = synthesize(["Hello there.", [" How are", " you?"], ""], sample_rate=16000)
    write_wav(path, ["Hello there.", " Bye."])          # PCM_16 WAV via soundfile
    turn_texts([...]) -> ["Hello there.", " How are you?", ""]   # the expected turn.end texts
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from jobrunner.protocol.events import (
    ConfigRequest,
    ServerEvent,
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
)
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams

Float32Array = npt.NDArray[np.float32]
TurnSpec = str | Sequence[str]
"""A turn: its text, or its parts with an in-turn pause between consecutive parts."""

SYMBOL_S: Final = 0.020
SYMBOL_GAP_S: Final = 0.005
RAMP_S: Final = 0.0015
WINDOW_S: Final = 0.016
STEP_HZ: Final = 1.0 / WINDOW_S
LOW_HZ: Final = tuple(500.0 + STEP_HZ * i for i in range(16))
HIGH_HZ: Final = tuple(1900.0 + STEP_HZ * i for i in range(16))
HUM_HZ: Final = 300.0
TONE_AMPLITUDE: Final = 0.25
HUM_AMPLITUDE: Final = 0.35
ENVELOPE_THRESHOLD: Final = 0.06
"""RMS over a 1 ms hop above which a tone is sounding."""
VAD_FRAME_S: Final = 0.010
VAD_THRESHOLD: Final = 0.05
"""RMS over a 10 ms frame above which the frame is speech."""


# --- encoder ------------------------------------------------------------------------------


def turn_texts(turns: Sequence[TurnSpec]) -> list[str]:
    """The ``turn.end`` transcripts the engine produces for ``turns``."""
    return [t if isinstance(t, str) else "".join(t) for t in turns]


def _ramped(n: int, sample_rate: int) -> Float32Array:
    envelope = np.ones(n, dtype=np.float32)
    ramp = min(n // 2, max(1, round(RAMP_S * sample_rate)))
    shape = (0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)).astype(np.float32)
    envelope[:ramp] = shape
    envelope[n - ramp :] = shape[::-1]
    return envelope


def _tone(freqs: Sequence[float], amplitude: float, n: int, sample_rate: int) -> Float32Array:
    t = np.arange(n, dtype=np.float64) / sample_rate
    wave = sum(np.sin(2.0 * np.pi * f * t) for f in freqs)
    return (amplitude * np.asarray(wave) * _ramped(n, sample_rate)).astype(np.float32)


def encode_bytes(data: bytes, sample_rate: int = 16000) -> Float32Array:
    """The symbols of ``data``: one 25 ms burst per byte (no hum, no silence around)."""
    on = round(SYMBOL_S * sample_rate)
    gap = np.zeros(round(SYMBOL_GAP_S * sample_rate), dtype=np.float32)
    out: list[Float32Array] = []
    for byte in data:
        out.append(
            _tone((LOW_HZ[byte >> 4], HIGH_HZ[byte & 0x0F]), TONE_AMPLITUDE, on, sample_rate)
        )
        out.append(gap)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def synthesize(
    turns: Sequence[TurnSpec],
    sample_rate: int = 16000,
    *,
    lead_s: float = 0.3,
    gap_s: float = 0.9,
    tail_s: float = 0.9,
    pause_s: float = 0.45,
    hum_s: float = 0.25,
) -> Float32Array:
    """Audio (float32 mono, peak 0.5) whose tones engine transcript is ``turn_texts(turns)``.

    ``tail_s`` below the end silence (0.6 s) leaves the last turn open until the client's
    ``close``. Texts are encoded verbatim: put the leading space of later turns in yourself.
    """

    def silence(seconds: float) -> Float32Array:
        return np.zeros(round(seconds * sample_rate), dtype=np.float32)

    hum_n = round(hum_s * sample_rate)
    gap_after_hum = silence(SYMBOL_GAP_S)
    pieces: list[Float32Array] = [silence(lead_s)]
    for index, turn in enumerate(turns):
        if index:
            pieces.append(silence(gap_s))
        pieces.append(_tone((HUM_HZ,), HUM_AMPLITUDE, hum_n, sample_rate))
        pieces.append(gap_after_hum)
        parts = [turn] if isinstance(turn, str) else list(turn)
        for part_index, part in enumerate(parts):
            if part_index:
                pieces.append(silence(pause_s))
            pieces.append(encode_bytes(part.encode("utf-8"), sample_rate))
    pieces.append(silence(tail_s))
    return np.concatenate(pieces)


def write_wav(
    path: str | Path,
    turns: Sequence[TurnSpec],
    sample_rate: int = 16000,
    *,
    subtype: str = "PCM_16",
    **timing: float,
) -> Path:
    """Write :func:`synthesize` output as a WAV file (any soundfile ``subtype``)."""
    import soundfile

    target = Path(path)
    soundfile.write(target, synthesize(turns, sample_rate, **timing), sample_rate, subtype=subtype)
    return target


# --- decoder ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbol:
    """One decoded byte; ``pos`` is the sample where its tone burst began."""

    pos: int
    byte: int


@lru_cache(maxsize=16)
def _dft_matrix(sample_rate: int) -> npt.NDArray[np.float64]:
    """Cosine rows then sine rows of the 32 symbol frequencies over one analysis window."""
    n = np.arange(round(WINDOW_S * sample_rate))
    phase = 2.0 * np.pi * np.array(LOW_HZ + HIGH_HZ)[:, None] * n[None, :] / sample_rate
    return np.concatenate((np.cos(phase), np.sin(phase)))


class ToneDecoder:
    """Streaming symbol decoder; its output depends on the samples only, not on chunking."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.hop = max(1, round(sample_rate / 1000))
        self._min_on = 0.6 * SYMBOL_S * sample_rate
        self._max_on = 1.5 * SYMBOL_S * sample_rate
        self._window = _dft_matrix(sample_rate)
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute position of _buf[0]
        self._next_hop = 0  # absolute position of the next hop to judge
        self._run_start: int | None = None
        self._run_long = False  # the current burst is already too long to be a symbol

    @property
    def horizon(self) -> int:
        """Every symbol starting before this sample has been returned already."""
        if self._run_start is None or self._run_long:
            return self._next_hop
        return self._run_start

    def feed(self, samples: Float32Array) -> list[Symbol]:
        self._buf = np.concatenate((self._buf, samples.astype(np.float32, copy=False)))
        first = self._next_hop - self._buf_start
        count = (len(self._buf) - first) // self.hop
        out: list[Symbol] = []
        if count > 0:
            hops = self._buf[first : first + count * self.hop].reshape(count, self.hop)
            on = np.mean(np.square(hops, dtype=np.float64), axis=1) >= ENVELOPE_THRESHOLD**2
            was_on = self._run_start is not None
            # only the hops where the envelope switches matter
            changes = np.flatnonzero(np.diff(on, prepend=was_on))
            for k in changes.tolist():
                pos = self._next_hop + k * self.hop
                if on[k]:
                    self._run_start = pos
                else:
                    out.extend(self._close_run(pos))
            end = self._next_hop + count * self.hop
            if self._run_start is not None and end - self._run_start > self._max_on:
                self._run_long = True
            self._next_hop += count * self.hop
        self._trim()
        return out

    def finish(self) -> list[Symbol]:
        """End of audio: a burst still sounding ends here."""
        end = self._buf_start + len(self._buf)
        out = self._close_run(end) if self._run_start is not None else []
        self._next_hop = end
        self._trim()
        return out

    def _close_run(self, end: int) -> list[Symbol]:
        start = self._run_start
        assert start is not None
        self._run_start = None
        long_run, self._run_long = self._run_long, False
        if long_run or not self._min_on <= end - start <= self._max_on:
            return []  # a hum, a click or noise: speech-like but no symbol
        width = self._window.shape[1]
        lo = max(start, (start + end - width) // 2) - self._buf_start
        segment = self._buf[lo : lo + width].astype(np.float64)
        # einsum: no BLAS call (thread start-up costs more than this tiny product)
        parts = np.einsum("ij,j->i", self._window[:, : len(segment)], segment)
        power = np.hypot(parts[:32], parts[32:])
        byte = (int(np.argmax(power[:16])) << 4) | int(np.argmax(power[16:]))
        return [Symbol(start, byte)]

    def _trim(self) -> None:
        keep = self._next_hop if self._run_start is None or self._run_long else self._run_start
        drop = keep - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start = keep


# --- engine -------------------------------------------------------------------------------


class ToneEngine:
    """Engine factory: ``get_engine("tones", update_ms=100, blocking=False)``.

    Decoding is cheap enough for the event loop; ``blocking=True`` runs it in worker threads
    like a real recognizer (to exercise that path of the server with exact transcripts).
    """

    name = "tones"

    def __init__(self, update_ms: float = 100.0, blocking: bool = False) -> None:
        self.update_ms = update_ms
        self.blocking = blocking

    def open(self, sample_rate: int, turn: TurnParams) -> ToneSession:
        session = ToneSession(sample_rate, turn, update_ms=self.update_ms)
        session.blocking = self.blocking
        return session


class ToneSession:
    """One connection: symbols -> cumulative text, energy gate -> turn decisions."""

    blocking = False

    def __init__(self, sample_rate: int, turn: TurnParams, *, update_ms: float = 100.0) -> None:
        frame = max(1, round(VAD_FRAME_S * sample_rate))
        self._detector = TurnDetector(DetectorConfig(sample_rate, frame), turn)
        self._decoder = ToneDecoder(sample_rate)
        self._frame = frame
        self._update_every = round(update_ms * sample_rate / 1000)
        self._audio = np.zeros(0, dtype=np.float32)  # samples not yet judged by the gate
        self._symbols: deque[Symbol] = deque()
        self._in_turn = False
        self._turn_start = 0
        self._text = ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._sent_text = ""
        self._last_update = 0

    def configure(self, request: ConfigRequest) -> None:
        self._detector.configure(request)

    def feed(self, samples: Float32Array) -> list[ServerEvent]:
        self._symbols.extend(self._decoder.feed(samples))
        self._audio = np.concatenate((self._audio, samples.astype(np.float32, copy=False)))
        return self._judge(self._decoder.horizon)

    def finish(self) -> list[ServerEvent]:
        self._symbols.extend(self._decoder.finish())
        events = self._judge(None)
        for decision in self._detector.finish():
            events.extend(self._apply(decision))
        return events

    def _judge(self, horizon: int | None) -> list[ServerEvent]:
        """Gate every frame that ends before ``horizon`` (None: all audio, partial frame too)."""
        pos = self._detector.position
        available = len(self._audio) if horizon is None else min(len(self._audio), horizon - pos)
        count = max(0, available) // self._frame
        sizes = [self._frame] * count
        if horizon is None and len(self._audio) > count * self._frame:
            sizes.append(len(self._audio) - count * self._frame)  # the last, partial frame
        if not sizes:
            return []
        frames = self._audio[: count * self._frame].reshape(count, self._frame)
        power = np.mean(np.square(frames, dtype=np.float64), axis=1).tolist()
        if len(sizes) > count:
            power.append(float(np.mean(np.square(self._audio[count * self._frame :]))))
        self._audio = self._audio[sum(sizes) :]
        events: list[ServerEvent] = []
        for n, frame_power in zip(sizes, power, strict=True):
            end = pos + n
            if self._in_turn:
                self._take_symbols(end)
            else:
                self._drop_symbols(self._detector.keep_from)
            speech = 1.0 if frame_power >= VAD_THRESHOLD**2 else 0.0
            for decision in self._detector.push(speech, n):
                events.extend(self._apply(decision))
            if self._in_turn and self._text != self._sent_text:
                if end - self._last_update >= self._update_every:
                    self._sent_text = self._text
                    self._last_update = end
                    events.append(TurnUpdate(transcript=self._text))
            pos = end
        return events

    def _take_symbols(self, before: int) -> None:
        data = bytearray()
        while self._symbols and self._symbols[0].pos < before:
            symbol = self._symbols.popleft()
            if symbol.pos >= self._turn_start:
                data.append(symbol.byte)
        if data:
            self._text += self._utf8.decode(bytes(data))

    def _drop_symbols(self, before: int) -> None:
        while self._symbols and self._symbols[0].pos < before:
            self._symbols.popleft()

    def _apply(self, decision: TurnDecision) -> list[ServerEvent]:
        if decision.kind == "start":
            self._in_turn = True
            self._turn_start = decision.start
            self._text = self._sent_text = ""
            self._last_update = decision.at
            self._take_symbols(decision.at)
            return [TurnStart()]
        if decision.kind == "resume":
            return [TurnResume()]
        self._take_symbols(decision.end)
        if decision.kind == "eager_end":
            return [TurnEagerEnd(transcript=self._text)]
        text = self._text + self._utf8.decode(b"", final=True)
        self._utf8.reset()
        self._in_turn = False
        self._text = self._sent_text = ""
        return [TurnEnd(transcript=text)]


__all__ = [
    "Symbol",
    "ToneDecoder",
    "ToneEngine",
    "ToneSession",
    "TurnSpec",
    "encode_bytes",
    "synthesize",
    "turn_texts",
    "write_wav",
]
