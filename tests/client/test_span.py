"""Streaming a piece: frames [start, end) of one channel or of the downmix, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jobrunner.audio.span import Span
from jobrunner.audio.stream import iter_chunks
from jobrunner.client.source import prepare
from jobrunner.config import Settings
from jobrunner.errors import AudioError

RATE = 16000


@pytest.fixture
def stereo(tmp_path: Path) -> tuple[str, np.ndarray]:
    rng = np.random.default_rng(7)
    samples = rng.integers(-20000, 20000, size=(5 * RATE, 2), dtype=np.int16)
    path = tmp_path / "stereo.wav"
    sf.write(path, samples, RATE, subtype="PCM_16")
    return str(path), samples


def wire(path: str, span: Span | None, downmix: str = "mono") -> np.ndarray:
    plan = prepare(path, Settings(downmix=downmix), span=span)
    data = b"".join(iter_chunks(path, plan, 100))
    return np.frombuffer(data, dtype="<i2")


def test_a_span_of_one_channel_sends_exactly_those_frames(stereo: tuple[str, np.ndarray]) -> None:
    path, samples = stereo
    start, end = 12_345, 3 * RATE + 17
    sent = wire(path, Span(start, end, channel=1))
    assert np.array_equal(sent, samples[start:end, 1])
    plan = prepare(path, Settings(), span=Span(start, end, channel=1))
    assert plan.duration_s == (end - start) / RATE
    assert "channel 1 of 2" in plan.describe()


def test_a_span_of_the_downmix_and_spans_that_tile_the_file(
    stereo: tuple[str, np.ndarray],
) -> None:
    path, samples = stereo
    whole = wire(path, None)
    cuts = [0, RATE + 1, 2 * RATE + 333, 5 * RATE]
    tiled = np.concatenate([wire(path, Span(a, b)) for a, b in zip(cuts, cuts[1:], strict=False)])
    assert np.array_equal(tiled, whole)  # the pieces' audio is the file's, no gap, no overlap
    assert len(whole) == len(samples)


@pytest.mark.parametrize("span", [Span(0, 6 * RATE), Span(RATE, RATE), Span(0, RATE, channel=2)])
def test_a_span_the_file_does_not_have_is_refused(
    stereo: tuple[str, np.ndarray], span: Span
) -> None:
    with pytest.raises(AudioError, match="has no"):
        prepare(stereo[0], Settings(), span=span)
