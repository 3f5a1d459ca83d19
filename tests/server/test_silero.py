"""The silero VAD (ONNX file shipped by faster-whisper) through the shared turn detector."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf
import soxr

if (
    importlib.util.find_spec("onnxruntime") is None
    or importlib.util.find_spec("faster_whisper") is None
):
    pytest.skip(
        "the asr extra is not installed (pip install 'jobrunner[asr]')", allow_module_level=True
    )

from srvkit import SPEECH

from jobrunner.server.silero import FRAME_SAMPLES, VAD_RATE, To16k, model_path, shared_model
from jobrunner.server.turn_detector import DetectorConfig, TurnDecision, TurnDetector, TurnParams

pytestmark = pytest.mark.asr

if not (SPEECH / "segments.json").is_file():
    pytest.skip(f"shared speech samples not found at {SPEECH}", allow_module_level=True)
SEGMENTS = json.loads((SPEECH / "segments.json").read_text())
TOLERANCE_S = 0.2  # speech start/end against segments.json (the README's tolerance)


def load(name: str) -> np.ndarray:
    audio, rate = sf.read(SPEECH / name, dtype="float32")
    assert rate == VAD_RATE
    return audio


def probabilities(audio: np.ndarray, chunk: int = 1600) -> np.ndarray:
    stream = shared_model().stream()
    parts = [stream.probabilities(audio[i : i + chunk]) for i in range(0, audio.size, chunk)]
    return np.concatenate(parts)


def turns(audio: np.ndarray, rate: int = VAD_RATE) -> list[TurnDecision]:
    """Decisions of the detector with the issue's settings, audio fed in 100 ms chunks."""
    to16k, stream = To16k(rate), shared_model().stream()
    detector = TurnDetector(DetectorConfig(VAD_RATE, FRAME_SAMPLES), TurnParams())
    decisions: list[TurnDecision] = []
    step = rate // 10
    pieces = [to16k.process(audio[i : i + step]) for i in range(0, audio.size, step)]
    for piece in [*pieces, to16k.flush()]:
        for prob in stream.probabilities(piece):
            decisions.extend(detector.push(float(prob)))
    return decisions + detector.finish()


def test_the_model_ships_inside_faster_whisper() -> None:
    path = model_path()
    assert path.name == "silero_vad_v6.onnx" and path.stat().st_size > 100_000


def test_speech_scores_high_and_silence_low() -> None:
    audio = load("s03_fox.wav")
    ((start, end),) = SEGMENTS["s03_fox.wav"]
    probs = probabilities(audio)
    assert probs.size == audio.size // FRAME_SAMPLES
    frame_s = FRAME_SAMPLES / VAD_RATE
    inside = probs[int((start + 0.2) / frame_s) : int((end - 0.2) / frame_s)]
    before = probs[: int((start - 0.1) / frame_s)]
    assert np.mean(inside > 0.5) > 0.8
    assert before.size and np.all(before < 0.35)


def test_chunking_does_not_change_the_scores() -> None:
    audio = load("s04_lights.wav")[: 40 * FRAME_SAMPLES + 100]
    whole = probabilities(audio, chunk=audio.size)
    assert np.allclose(probabilities(audio, chunk=37), whole, atol=1e-5)
    assert np.allclose(probabilities(audio, chunk=FRAME_SAMPLES * 3), whole, atol=1e-5)


@pytest.mark.parametrize("name", ["two_sent_1p5s.wav", "short_turns.wav", "real/librivox_0880.wav"])
def test_turns_match_the_true_speech_times(name: str) -> None:
    decisions = turns(load(name))
    starts = [d for d in decisions if d.kind == "start"]
    ends = [d for d in decisions if d.kind == "end"]
    assert len(ends) == len(starts) == len(SEGMENTS[name])
    for (s0, s1), start, end in zip(SEGMENTS[name], starts, ends, strict=True):
        speech_start = start.start / VAD_RATE + 0.2  # the turn's audio keeps 200 ms of pre-roll
        assert speech_start == pytest.approx(s0, abs=TOLERANCE_S)
        assert end.end / VAD_RATE == pytest.approx(s1, abs=TOLERANCE_S)


@pytest.mark.parametrize("snr_db", [10.0, 5.0])
def test_turns_survive_white_noise(snr_db: float) -> None:
    name = "two_sent_1p5s.wav"
    audio = load(name)
    speech = np.concatenate(
        [audio[int(a * VAD_RATE) : int(b * VAD_RATE)] for a, b in SEGMENTS[name]]
    )
    noise_power = float(np.mean(speech**2)) / 10 ** (snr_db / 10)
    noise = np.random.default_rng(7).normal(0, np.sqrt(noise_power), audio.size)
    ends = [d for d in turns((audio + noise).astype(np.float32)) if d.kind == "end"]
    assert len(ends) == 2
    for (_, s1), end in zip(SEGMENTS[name], ends, strict=True):
        assert end.end / VAD_RATE == pytest.approx(s1, abs=0.4)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros(3 * VAD_RATE, dtype=np.float32),
        np.random.default_rng(3).normal(0, 0.1, 3 * VAD_RATE).astype(np.float32),
        np.random.default_rng(4).normal(0, 0.01, 3 * VAD_RATE).astype(np.float32),
    ],
    ids=["silence", "loud-white-noise", "quiet-white-noise"],
)
def test_no_speech_in_silence_or_noise(audio: np.ndarray) -> None:
    assert probabilities(audio).max() < 0.5
    assert turns(audio) == []


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_other_sample_rates_are_resampled_for_the_vad(rate: int) -> None:
    name = "two_sent_1p5s.wav"
    audio = soxr.resample(load(name), VAD_RATE, rate).astype(np.float32)
    decisions = turns(audio, rate)
    ends = [d for d in decisions if d.kind == "end"]
    assert len(ends) == 2
    for (_, s1), end in zip(SEGMENTS[name], ends, strict=True):
        assert end.end / VAD_RATE == pytest.approx(s1, abs=TOLERANCE_S)
