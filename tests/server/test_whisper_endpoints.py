"""The whisper engine behind Manual and Batch: word times that match the text."""

from __future__ import annotations

import httpx
import numpy as np
from helpers import Serve
from srvkit import SPEECH, converse, encode, finals_of, manual_query, run
from test_whisper_recognizer import MAX_WER_SYNTHETIC, load, needs_asr, reference

from jobrunner.server.transcripts import normalize_words, word_error_rate

NAME = "two_sent_1p5s.wav"


def check_words(text: str, words: list[dict[str, float | str]], duration: float) -> None:
    """The words spell the text, in order, inside the audio."""
    assert normalize_words(" ".join(str(w["word"]) for w in words)) == normalize_words(text)
    starts = [float(w["start"]) for w in words]
    assert starts == sorted(starts)
    assert all(0 <= float(w["start"]) <= float(w["end"]) <= duration + 0.5 for w in words)


@needs_asr
def test_manual_finals_with_word_times(serve: Serve) -> None:
    audio, rate = load(NAME)
    server = serve(engine="whisper")
    steps = [encode(audio, "pcm_s16le", rate), "close"]
    out = run(converse(server.url, manual_query(rate=rate), steps, chunk=rate // 5))
    assert out.close_code == 1000 and out.types[-1] == "done"
    (final,) = [e for e in out.of("transcript") if e["is_final"]]
    joined = "".join(finals_of(out))
    assert word_error_rate(" ".join(reference(NAME)), joined) < MAX_WER_SYNTHETIC
    check_words(final["text"], final["words"], len(audio) / rate)


def pause_middle(audio: np.ndarray, rate: int) -> int:
    """The sample in the middle of the longest quiet stretch between speech (10 ms frames)."""
    frame = rate // 100
    loud = np.sqrt(np.mean(np.square(audio[: audio.size // frame * frame].reshape(-1, frame)), 1))
    speech = np.flatnonzero(loud > 0.01)
    gaps = np.diff(speech)
    widest = int(np.argmax(gaps))
    return int((speech[widest] + gaps[widest] // 2) * frame)


@needs_asr
def test_manual_finalize_in_the_pause_keeps_every_word(serve: Serve) -> None:
    """Finalizes cut the audio, not the turn detector: the finals join to the whole text."""
    audio, rate = load(NAME)
    split = pause_middle(audio, rate)
    steps = [encode(audio[:split], "pcm_s16le", rate), "finalize"]
    steps += [encode(audio[split:], "pcm_s16le", rate), "close"]
    out = run(converse(serve(engine="whisper").url, manual_query(rate=rate), steps, chunk=3200))
    assert out.close_code == 1000 and out.types[-1] == "done"
    finals = [e for e in out.of("transcript") if e["is_final"]]
    assert len(finals) == 2
    joined = "".join(finals_of(out))
    assert word_error_rate(" ".join(reference(NAME)), joined) < MAX_WER_SYNTHETIC
    check_words(joined, [w for f in finals for w in f["words"]], len(audio) / rate)


@needs_asr
def test_batch_with_word_times(serve: Serve) -> None:
    server = serve(engine="whisper")
    with httpx.Client(timeout=120) as client:
        response = client.post(
            server.url + "/stt",
            files={"file": (NAME, (SPEECH / NAME).read_bytes(), "audio/wav")},
            data={"model": "ink-whisper", "timestamp_granularities[]": "word"},
        )
    body = response.json()
    assert word_error_rate(" ".join(reference(NAME)), body["text"]) < MAX_WER_SYNTHETIC
    check_words(body["text"], body["words"], body["duration"])
