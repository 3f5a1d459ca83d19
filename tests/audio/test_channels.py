"""The ``--channels auto`` verdict on stereo built from ../shared/speech, no mocks.

The table is the measurement the thresholds in :mod:`jobrunner.audio.channels` were chosen
from (the README's "Channels" shows the full figures): calls split, one source on both sides
downmixes, a silent side downmixes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from jobrunner.audio.channels import (
    MIN_DOMINANT_SHARE,
    channels_differ,
    measure,
    measure_file,
)
from jobrunner.errors import AudioError

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"
if not (SPEECH / "segments.json").is_file():
    pytest.skip(f"shared speech samples not found at {SPEECH}", allow_module_level=True)

RATE = 16000
NAMES = ("s01_weather", "s02_meeting", "s03_fox", "s04_lights", "s05_taxi", "s06_library")
Audio = npt.NDArray[np.float32]


def clips() -> list[Audio]:
    return [np.asarray(sf.read(SPEECH / f"{n}.wav", dtype="float32")[0]) for n in NAMES]


def call(crosstalk: float = 0.05, caller_turns: int = 3) -> Audio:
    """Agent left, caller right, taking turns; each side hears the other at ``crosstalk``."""
    left, right = [], []
    for i, clip in enumerate(clips()):
        caller = i % 2 == 1 and i // 2 < caller_turns
        left.append(np.zeros_like(clip) if caller else clip)
        right.append(clip if caller else np.zeros_like(clip))
    a, b = np.concatenate(left), np.concatenate(right)
    return np.stack([a + crosstalk * b, b + crosstalk * a], axis=1)


def mono() -> Audio:
    return np.concatenate(clips())


def same(delay: int = 0, gain: float = 1.0) -> Audio:
    one = mono()
    other = np.concatenate([np.zeros(delay, np.float32), one])[: one.size] * gain
    return np.stack([one, other], axis=1)


def silent_side() -> Audio:
    one = mono()
    return np.stack([one, np.zeros_like(one)], axis=1)


def music_bed() -> Audio:
    t = np.arange(mono().size) / RATE
    chords = sum(0.05 * np.sin(2 * np.pi * f * t) for f in (220, 277, 330, 440))
    bed = np.asarray(chords * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)), np.float32)
    return np.stack([bed, 0.9 * bed], axis=1)


CASES: dict[str, tuple[Callable[[], Audio], bool]] = {
    "call, no crosstalk": (lambda: call(0.0), True),
    "call, crosstalk -26 dB": (call, True),
    "call, crosstalk -14 dB": (lambda: call(0.2), True),
    "call, caller speaks one turn in six": (lambda: call(0.05, caller_turns=1), True),
    "same signal": (same, False),
    "same signal, 5 ms later, -3 dB": (lambda: same(80, 0.7), False),
    "one side silent": (silent_side, False),
    "stereo music bed": (music_bed, False),
}


@pytest.mark.parametrize("name", CASES)
def test_verdict(name: str) -> None:
    build, split = CASES[name]
    figures = measure(build(), RATE)
    assert figures.differ() is split, figures


def test_a_call_is_dominated_by_each_side_in_turn() -> None:
    pair = measure(call(), RATE).pairs[0]
    assert min(pair.dominant_share) > 0.3
    # the speech maps cannot tell: the detector hears the -26 dB echo as speech
    assert pair.speech_disagreement is not None and pair.speech_disagreement < 0.1


def test_the_same_sound_is_never_dominated() -> None:
    figures = measure(same(80, 0.7), RATE)
    assert max(figures.pairs[0].dominant_share) < MIN_DOMINANT_SHARE
    assert figures.speech_s[0] > 10 and figures.speech_s[1] > 10


def test_mono_never_differs() -> None:
    figures = measure(mono(), RATE)
    assert figures.channels == 1 and figures.pairs == () and not figures.differ()


def peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        measure_file(path, block_s=1.0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_file_is_streamed_and_measures_as_in_memory(tmp_path: Path) -> None:
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    sf.write(short, call(), RATE, subtype="PCM_16")
    sf.write(long, np.tile(call(), (4, 1)), RATE, subtype="PCM_16")
    assert channels_differ(short)
    figures = measure_file(short, block_s=1.0)
    assert figures.duration_s == pytest.approx(call().shape[0] / RATE)
    whole = measure(sf.read(short, dtype="float32")[0], RATE)
    assert figures.pairs[0].dominant_share == pytest.approx(
        whole.pairs[0].dominant_share, abs=0.002
    )
    assert peak_bytes(long) < 1.5 * peak_bytes(short)  # bounded by the block, not the file


def test_same_sound_file_downmixes(tmp_path: Path) -> None:
    path = tmp_path / "stereo.flac"
    sf.write(path, same(), RATE)
    assert not channels_differ(path)


def test_unreadable_file_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError):
        channels_differ(path)
