"""The real offline recognizer (``--engine whisper``) on real and synthesized speech.

Accuracy is judged with a WER threshold set from ``bench/asr.py`` measurements with margin
(measured: 0-11 % per file on these), never with exact strings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers import Serve
from srvkit import SPEECH, encode, query, run, talk

from jobrunner.errors import ConfigError
from jobrunner.protocol.events import (
    ServerEvent,
    TurnEagerEnd,
    TurnEnd,
    TurnResume,
    TurnStart,
    TurnUpdate,
)
from jobrunner.server.recognizer import get_recognizer
from jobrunner.server.transcripts import agreed_prefix, merge, normalize_words, word_error_rate
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.whisper import WhisperRecognizer
from jobrunner.server.whisper import recognizer as whisper_module

HAVE_ASR = importlib.util.find_spec("faster_whisper") is not None
_NEEDS_ASR = (
    pytest.mark.asr,
    pytest.mark.skipif(not HAVE_ASR, reason="the asr extra is not installed"),
    pytest.mark.skipif(not SPEECH.is_dir(), reason=f"shared speech samples not at {SPEECH}"),
)
_F = TypeVar("_F", bound=Callable[..., None])


def needs_asr(test: _F) -> _F:
    """Marks ``asr``; skips with the reason when the extra or the speech samples are missing."""
    for mark in _NEEDS_ASR:
        test = mark(test)
    return test


MAX_WER_SYNTHETIC = 0.25
MAX_WER_REAL = 0.35


def reference(name: str) -> list[str]:
    for line in (SPEECH / "texts.tsv").read_text().splitlines():
        file, _, text = line.partition("\t")
        if file == name:
            return [turn.strip() for turn in text.split(" | ")]
    raise KeyError(name)


def load(name: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(SPEECH / name, dtype="float32")
    return audio, rate


def stream(recognizer: WhisperRecognizer, audio: np.ndarray, rate: int) -> list[ServerEvent]:
    """Feed 100 ms chunks as the server does, then finish."""
    recognition = recognizer.open(rate, TurnParams())
    step = rate // 10
    events: list[ServerEvent] = []
    for begin in range(0, audio.size, step):
        events.extend(recognition.feed(audio[begin : begin + step]))
    return events + recognition.finish()


def assert_turn_grammar(events: list[ServerEvent]) -> None:
    """Per the contract: start, cumulative text that only grows, eager_end/resume, end."""
    state, text = "idle", ""
    for event in events:
        if isinstance(event, TurnStart):
            assert state == "idle"
            state, text = "speaking", ""
            continue
        assert state != "idle", f"{event.type} outside a turn"
        if isinstance(event, TurnResume):
            assert state == "eager"
            state = "speaking"
            continue
        assert isinstance(event, TurnUpdate | TurnEagerEnd | TurnEnd)
        assert event.transcript.startswith(text), (text, event.transcript)
        text = event.transcript
        state = {TurnUpdate: state, TurnEagerEnd: "eager", TurnEnd: "idle"}[type(event)]
    assert state == "idle"


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    if not HAVE_ASR:
        pytest.skip("the asr extra is not installed")
    built = get_recognizer("whisper")
    assert isinstance(built, WhisperRecognizer)
    return built


# --- text helpers (no model) --------------------------------------------------------------


def test_word_error_rate_normalises_case_punctuation_and_small_numbers() -> None:
    assert word_error_rate("ten of clubs", "10 of Clubs.") == 0.0
    assert word_error_rate("mister john's cold hearted", "Mr. John's cold-hearted!") == 0.0
    assert word_error_rate("a b c d", "a x c") == pytest.approx(0.5)
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "noise") == 1.0


def test_merge_only_ever_extends_what_was_sent() -> None:
    assert merge("", "Hello there.") == "Hello there."
    assert (
        merge("Eight of spades,", "8 of spades. Four of clubs") == "Eight of spades, Four of clubs"
    )
    assert merge("Hello there", "Hello there") == "Hello there"
    assert merge("I wear a", "I work as a software engineer") is None
    assert merge("Hello there", "Hello") is None


def test_a_word_is_sent_when_two_partials_agree_on_it_never_the_last() -> None:
    assert agreed_prefix("", "My name is John") == ""
    assert agreed_prefix("My name is John.", "My name is John and I") == "My name is John"
    assert agreed_prefix("I wear a canvas", "I work as a software") == "I"
    assert normalize_words(agreed_prefix("a b c", "a b c")) == ["a", "b"]


def test_missing_asr_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "faster_whisper" else real_find_spec(name, package)

    monkeypatch.setattr(whisper_module.importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError, match=r"pip install 'jobrunner\[asr\]'"):
        get_recognizer("whisper")


# --- the recognizer on speech -------------------------------------------------------------


@needs_asr
@pytest.mark.parametrize("name", ["two_sent_1p5s.wav", "short_turns.wav"], ids=str)
def test_multi_turn_synthetic_speech(recognizer: WhisperRecognizer, name: str) -> None:
    audio, rate = load(name)
    events = stream(recognizer, audio, rate)
    assert_turn_grammar(events)
    finals = [e.transcript for e in events if isinstance(e, TurnEnd)]
    expected = reference(name)
    assert len(finals) == len(expected)
    for got, want in zip(finals, expected, strict=True):
        assert word_error_rate(want, got) < MAX_WER_SYNTHETIC, (want, got)
    # the service's spacing: later turns start with one space, so the verbatim join reads well
    assert not finals[0].startswith(" ")
    assert all(f.startswith(" ") and not f.startswith("  ") for f in finals[1:])
    assert "  " not in "".join(finals)


@needs_asr
@pytest.mark.parametrize("name", ["real/librivox_0870.wav", "real/goforward.wav"], ids=str)
def test_real_read_speech(recognizer: WhisperRecognizer, name: str) -> None:
    audio, rate = load(name)
    events = stream(recognizer, audio, rate)
    assert_turn_grammar(events)
    finals = [e.transcript for e in events if isinstance(e, TurnEnd)]
    assert len(finals) == 1
    assert word_error_rate(" ".join(reference(name)), finals[0]) < MAX_WER_REAL, finals


@needs_asr
def test_other_sample_rates(recognizer: WhisperRecognizer) -> None:
    audio, rate = load("s04_lights.wav")
    resampled = soxr.resample(audio, rate, 44100).astype(np.float32)
    finals = [e.transcript for e in stream(recognizer, resampled, 44100) if isinstance(e, TurnEnd)]
    assert len(finals) == 1
    assert word_error_rate(reference("s04_lights.wav")[0], finals[0]) < MAX_WER_SYNTHETIC


@needs_asr
def test_no_turn_in_silence_or_noise(recognizer: WhisperRecognizer) -> None:
    rng = np.random.default_rng(5)
    audio = np.concatenate([np.zeros(16000), rng.normal(0, 0.05, 32000)]).astype(np.float32)
    assert stream(recognizer, audio, 16000) == []


@needs_asr
def test_inline_partials_grow_into_the_final() -> None:
    recognizer = WhisperRecognizer(partial_interval_s=1.5, inline_partials=True)
    audio, rate = load("real/librivox_0870.wav")
    events = stream(recognizer, audio, rate)
    assert_turn_grammar(events)
    updates = [e.transcript for e in events if isinstance(e, TurnUpdate)]
    final = [e.transcript for e in events if isinstance(e, TurnEnd)]
    assert len(updates) >= 2 and len(set(updates)) == len(updates)
    assert len(final) == 1 and final[0].startswith(updates[-1]) and final[0] != updates[-1]
    assert word_error_rate(reference("real/librivox_0870.wav")[0], final[0]) < MAX_WER_REAL


@needs_asr
def test_close_mid_turn_ends_it(recognizer: WhisperRecognizer) -> None:
    audio, rate = load("s05_taxi.wav")
    cut = audio[: int(2.5 * rate)]  # the client closes while the speaker is talking
    events = stream(recognizer, cut, rate)
    assert [type(e) for e in events if not isinstance(e, TurnUpdate)][-1] is TurnEnd
    final = [e.transcript for e in events if isinstance(e, TurnEnd)][0]
    assert normalize_words(final)[:3] == ["i", "need", "a"]


@needs_asr
def test_through_the_local_server(serve: Serve) -> None:
    audio, rate = load("two_sent_1p5s.wav")
    narrow = soxr.resample(audio, rate, 8000).astype(np.float32)
    server = serve(engine="whisper")
    out = run(
        talk(
            server.url, query("pcm_mulaw", 8000), audio=encode(narrow, "pcm_mulaw", 8000), chunk=800
        )
    )
    assert out.close_code == 1000
    assert out.types[0] == "connected" and out.types.count("turn.start") == 2
    joined = "".join(out.finals)
    assert word_error_rate(" ".join(reference("two_sent_1p5s.wav")), joined) < MAX_WER_SYNTHETIC
