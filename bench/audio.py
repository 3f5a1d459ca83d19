"""Generated test audio: tone files (the tones engine's code) whose transcript is known.

Every file differs (a little dither, far below the tones' thresholds), because enqueue
deduplicates equal content; lengths are exact to the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from jobrunner.server.tones import synthesize, turn_texts

#: text material for generated turns (ASCII, so 40 symbols per second of tones)
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()


@dataclass(frozen=True)
class AudioFile:
    path: Path
    seconds: float
    transcript: str


def _turns_for(seconds: float, rng: np.random.Generator, rate: int) -> list[str]:
    """Turns whose tones audio fits in ``seconds`` (with lead, gaps and a 0.9 s tail)."""
    turns: list[str] = []
    used = 0.3 + 0.9  # lead + tail
    while True:
        words = rng.choice(WORDS, size=int(rng.integers(2, 7)))
        text = ("" if not turns else " ") + " ".join(words) + "."
        need = (0.9 if turns else 0.0) + 0.255 + 0.025 * len(text.encode())
        if used + need > seconds:
            return turns
        turns.append(text)
        used += need


def tone_file(path: Path, seconds: float, *, seed: int = 0, rate: int = 16000) -> AudioFile:
    """A PCM_16 WAV of exactly ``seconds`` whose tones transcript is known (unique per seed)."""
    rng = np.random.default_rng(seed)
    turns = _turns_for(seconds, rng, rate)
    audio = synthesize(turns, rate) if turns else np.zeros(0, dtype=np.float32)
    frames = round(seconds * rate)
    if len(audio) < frames:
        audio = np.concatenate([audio, np.zeros(frames - len(audio), dtype=np.float32)])
    # a little dither (about -70 dBFS, far below the tones' thresholds) makes every file's
    # content different even without turns: enqueue would deduplicate equal files
    audio = audio[:frames] + rng.normal(0.0, 3e-4, frames).astype(np.float32)
    sf.write(path, audio, rate, subtype="PCM_16")
    return AudioFile(path, frames / rate, "".join(turn_texts(turns)))


def audio_set(folder: Path, durations: Sequence[float], *, seed: int = 0) -> list[AudioFile]:
    """One tone file per duration, named in list order (``f000.wav`` ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        tone_file(folder / f"f{i:03d}.wav", seconds, seed=seed * 1000 + i)
        for i, seconds in enumerate(durations)
    ]


def mixed_durations(count: int, low: float, high: float, *, seed: int = 0) -> list[float]:
    """``count`` lengths evenly spread over [low, high], shuffled (so the order is no help)."""
    if count == 1:
        return [high]
    spread = [round(low + (high - low) * i / (count - 1), 1) for i in range(count)]
    order = np.random.default_rng(seed).permutation(count)
    return [spread[i] for i in order]


def long_tone_file(path: Path, minutes: int, *, rate: int = 16000) -> AudioFile:
    """A long recording written block by block: one 60 s pattern (a few turns) repeated."""
    block = tone_file(path.with_suffix(".block.wav"), 60.0, seed=99, rate=rate)
    pattern, _ = sf.read(block.path, dtype="int16")
    block.path.unlink()
    with sf.SoundFile(path, "w", rate, 1, "PCM_16") as out:
        for _ in range(minutes):
            out.write(pattern)
    return AudioFile(path, minutes * 60.0, block.transcript * minutes)
