"""The tones engine decodes exactly the text its encoder put into the audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from srvkit import encode

from jobrunner.protocol.events import ServerEvent, TurnEnd
from jobrunner.server.pcm import PcmDecoder
from jobrunner.server.recognizer import get_recognizer
from jobrunner.server.tones import ToneDecoder, encode_bytes, synthesize, turn_texts, write_wav
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import EngineEvent, TurnWords

TURNS = [
    "Grüße, naïve café — 世界! 👋🏽",
    [" Well…", ' "quoted", (parens) & #tags; 100%?'],
    "",
    "   three leading spaces\ttab",
    " x",
]


def recognize(samples: np.ndarray, rate: int, chunk: int, **turn: float) -> list[ServerEvent]:
    """The wire events (word times left out) of ``samples`` fed in ``chunk``-sample blocks."""
    recognition = get_recognizer("tones").open(rate, TurnParams(**turn))
    events: list[EngineEvent] = []
    for start in range(0, len(samples), chunk):
        events.extend(recognition.feed(samples[start : start + chunk]))
    return [e for e in events + recognition.finish() if not isinstance(e, TurnWords)]


def finals(events: list[ServerEvent]) -> list[str]:
    return [e.transcript for e in events if isinstance(e, TurnEnd)]


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return synthesize(TURNS, 16000)


def test_exact_text_and_event_grammar(audio: np.ndarray) -> None:
    events = recognize(audio, 16000, 1600)
    assert finals(events) == turn_texts(TURNS)
    kinds = [e.type for e in events]
    # every turn starts before its first update and ends once; the paused turn resumes
    assert kinds.count("turn.start") == kinds.count("turn.end") == len(TURNS)
    assert kinds.count("turn.resume") == 1
    text = ""
    for event in events:
        if event.type == "turn.start":
            text = ""
        if event.type in ("turn.update", "turn.eager_end", "turn.end"):
            current = event.transcript  # type: ignore[union-attr]
            assert current.startswith(text)  # cumulative: only ever extended
            text = current


@pytest.mark.parametrize(
    "encoding", ["pcm_s16le", "pcm_s32le", "pcm_f16le", "pcm_f32le", "pcm_mulaw", "pcm_alaw"]
)
def test_every_wire_encoding_round_trips(audio: np.ndarray, encoding: str) -> None:
    wire = encode(audio, encoding)
    decoder = PcmDecoder(encoding)
    samples = np.concatenate([decoder.feed(wire[i : i + 777]) for i in range(0, len(wire), 777)])
    assert finals(recognize(samples, 16000, 1600)) == turn_texts(TURNS)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_resampled_audio_decodes_at_the_session_rate(audio: np.ndarray, rate: int) -> None:
    resampled = soxr.resample(audio, 16000, rate).astype(np.float32)
    wire = encode(resampled, "pcm_mulaw" if rate == 8000 else "pcm_s16le", rate)
    encoding = "pcm_mulaw" if rate == 8000 else "pcm_s16le"
    samples = PcmDecoder(encoding).feed(wire)
    assert finals(recognize(samples, rate, rate // 10)) == turn_texts(TURNS)


def test_synthesized_directly_at_8k() -> None:
    audio = synthesize(TURNS, 8000)
    assert finals(recognize(audio, 8000, 800)) == turn_texts(TURNS)


def test_events_do_not_depend_on_chunking(audio: np.ndarray) -> None:
    reference = recognize(audio, 16000, 1600)
    for chunk in (7, 333, 4801, len(audio)):
        assert recognize(audio, 16000, chunk) == reference


@pytest.mark.parametrize("encoding", ["pcm_mulaw", "pcm_alaw"])
def test_every_byte_value_survives(encoding: str) -> None:
    data = bytes(range(256))  # below the UTF-8 layer: every symbol the codec has
    wire = encode(encode_bytes(data, 8000), encoding, 8000)
    decoder = ToneDecoder(8000)
    symbols = decoder.feed(PcmDecoder(encoding).feed(wire)) + decoder.finish()
    assert bytes(s.byte for s in symbols) == data
    # each burst found where it was put (25 ms apart at 8 kHz), to within 2 ms
    assert all(abs(s.pos - i * 200) <= 16 for i, s in enumerate(symbols))


def test_open_turn_is_flushed_by_finish() -> None:
    audio = synthesize(["first", " last words"], 16000, tail_s=0.05)
    events = recognize(audio, 16000, 1600)
    assert finals(events) == ["first", " last words"]


def test_a_lower_end_threshold_joins_turns_separated_by_a_short_gap() -> None:
    audio = synthesize(["one", " two"], 16000, gap_s=0.9)
    assert finals(recognize(audio, 16000, 1600)) == ["one", " two"]
    assert finals(recognize(audio, 16000, 1600, end_threshold=0.05)) == ["one two"]


def test_silence_and_hum_give_no_text(tmp_path: Path) -> None:
    assert recognize(np.zeros(32000, dtype=np.float32), 16000, 1600) == []
    assert finals(recognize(synthesize([""], 16000), 16000, 1600)) == [""]


def test_write_wav_any_subtype(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "t.wav", ["Hi!", " Bye."], 22050, subtype="PCM_24")
    info = soundfile.info(path)
    assert (info.samplerate, info.subtype, info.channels) == (22050, "PCM_24", 1)
    samples, rate = soundfile.read(path, dtype="float32")
    assert finals(recognize(samples, rate, 2205)) == ["Hi!", " Bye."]


def test_word_times_follow_the_symbols() -> None:
    """Each word runs from its first symbol's start to its last symbol's end, in seconds of the
    session; UTF-8 words decode whole."""
    rate = 16000
    turns = ["Grüße café", " 世界 x"]
    samples = synthesize(turns, rate, lead_s=0.5, hum_s=0.25)
    recognition = get_recognizer("tones").open(rate, TurnParams())
    events = recognition.feed(samples) + recognition.finish()
    words = [w for e in events if isinstance(e, TurnWords) for w in e.words]
    assert [w.word for w in words] == ["Grüße", "café", "世界", "x"]
    symbol = 0.025  # 20 ms tone + 5 ms gap per byte
    first_start = 0.5 + 0.25 + 0.005  # lead, hum, the gap after the hum
    assert words[0].start == pytest.approx(first_start, abs=0.002)
    assert words[0].end == pytest.approx(first_start + 7 * symbol - 0.005, abs=0.002)  # 7 bytes
    assert words[1].start == pytest.approx(first_start + 8 * symbol, abs=0.002)  # after "Grüße "
    assert all(w.start < w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
