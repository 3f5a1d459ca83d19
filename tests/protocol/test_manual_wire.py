"""The Manual endpoint sans I/O: its URL, its events and one turn per finalize. No sockets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from jobrunner.config import Settings
from jobrunner.errors import (
    ConfigError,
    DrainError,
    ProtocolViolationError,
    RequestRejectedError,
    ServerErrorEvent,
)
from jobrunner.protocol.events import UnknownEvent
from jobrunner.protocol.handshake import build_url
from jobrunner.protocol.manual import (
    MANUAL_PATH,
    Done,
    FlushDone,
    ManualParams,
    ManualTranscript,
    parse_manual_event,
)
from jobrunner.protocol.manual_session import ManualSession, ManualTurn
from jobrunner.protocol.words import Word, parse_words

RID = "5d1e1d62-9c4b-4a37-8f0e-2b0d5f3c1a77"


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "request_id": RID, **fields})


def interim(text: str) -> str:
    return frame("transcript", text=text, is_final=False)


def final(text: str, **fields: Any) -> str:
    return frame("transcript", text=text, is_final=True, **fields)


def url_for(settings: Settings) -> str:
    params = ManualParams.from_settings(settings, encoding="pcm_s16le", sample_rate=16000)
    return build_url(settings.base_url, params, MANUAL_PATH)


class Script:
    """A Manual session driven like the client drives it: sends and events in order."""

    def __init__(self) -> None:
        self.session = ManualSession()
        self.audio_s = 0.0
        self.ended: list[ManualTurn] = []

    def event(self, text: str, audio_s: float | None = None) -> None:
        if audio_s is not None:
            self.audio_s = audio_s
        turn = self.session.receive(
            parse_manual_event(text), audio_s=self.audio_s, at=100.0 + self.audio_s
        )
        if turn is not None:
            assert isinstance(turn, ManualTurn)
            self.ended.append(turn)


def test_url_is_the_sdks_manual_url_with_language_and_keyterms() -> None:
    settings = Settings(base_url="http://127.0.0.1:8765/prefix/", keyterms=("Cartesia",))
    url = url_for(settings)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "ws",
        "127.0.0.1:8765",
        "/prefix" + MANUAL_PATH,
    )
    assert parse_qsl(parts.query) == [
        ("encoding", "pcm_s16le"),
        ("model", "ink-2"),
        ("sample_rate", "16000"),
        ("keyterm", "Cartesia"),
        ("language", "en"),
    ]


def test_whisper_only_parameters_pass_through_for_ink_whisper() -> None:
    settings = Settings(
        endpoint="manual", model="ink-whisper", min_volume=0.1, max_silence_duration_secs=1.5
    )
    query = parse_qsl(urlsplit(url_for(settings)).query)
    assert query[-3:] == [
        ("language", "en"),
        ("max_silence_duration_secs", "1.5"),
        ("min_volume", "0.1"),
    ]


def test_whisper_only_parameters_are_refused_for_other_models() -> None:
    with pytest.raises(ConfigError, match="min_volume.*ink-whisper"):
        Settings(endpoint="manual", model="ink-2", min_volume=0.1)
    with pytest.raises(ConfigError, match="max_silence_duration_secs"):
        Settings(endpoint="auto", model="ink-whisper", max_silence_duration_secs=1.0)
    params = ManualParams(model="ink-2", encoding="pcm_s16le", sample_rate=16000, min_volume=0.1)
    with pytest.raises(ConfigError, match="ink-whisper only"):
        build_url("http://127.0.0.1:1", params, MANUAL_PATH)


def test_events_parse_with_words_in_both_shapes() -> None:
    objects = parse_manual_event(
        final(" hi there", words=[{"word": "hi", "start": 0.5, "end": 0.7}], duration=1.2)
    )
    assert isinstance(objects, ManualTranscript) and objects.is_final
    assert objects.words == (Word("hi", 0.5, 0.7),) and objects.duration == 1.2
    parallel = parse_manual_event(
        final(" a b", words=[{"words": ["a", "b"], "start": [0, 1], "end": [0.5, 1.5]}])
    )
    assert isinstance(parallel, ManualTranscript)
    assert parallel.words == (Word("a", 0.0, 0.5), Word("b", 1.0, 1.5))
    assert parse_words({"words": ["x"], "start": [2], "end": [3]}) == (Word("x", 2.0, 3.0),)
    assert isinstance(parse_manual_event(frame("flush_done")), FlushDone)
    assert isinstance(parse_manual_event(frame("done")), Done)
    assert isinstance(parse_manual_event(frame("turn.start")), UnknownEvent)


@pytest.mark.parametrize(
    "bad",
    [
        frame("transcript", text=" x"),  # no is_final
        frame("transcript", text=3, is_final=True),
        final(" x", words=[{"word": "x", "start": "soon", "end": 1}]),
        final(" x", words=[{"words": ["x", "y"], "start": [0], "end": [1]}]),
        final(" x", words="x"),
    ],
)
def test_malformed_transcripts_are_violations(bad: str) -> None:
    with pytest.raises(ProtocolViolationError):
        parse_manual_event(bad)


def test_one_turn_per_finalize_finals_verbatim_interims_counted() -> None:
    run = Script()
    run.event(interim(" Hel"), 1.0)
    run.event(interim(" Hello"), 1.2)
    run.session.finalize_sent()
    run.event(final(" Hello", words=[{"word": "Hello", "start": 0.6, "end": 1.0}]), 1.5)
    run.event(final(" there."), 1.6)
    run.event(frame("flush_done"), 1.7)
    run.session.finalize_sent()
    run.event(frame("flush_done"), 2.5)  # a finalize over silence: no turn
    run.event(final(" Bye."), 3.0)
    run.session.close_sent()
    run.event(frame("done"), 3.4)
    first, last = run.ended
    assert [t.transcript for t in run.ended] == [" Hello there.", " Bye."]
    assert run.session.transcript == " Hello there. Bye."
    assert (first.updates, first.finals, first.first_update_audio_s) == (2, 2, 1.0)
    assert (first.start_audio_s, first.end_audio_s, first.ended_by) == (1.0, 1.6, "flush_done")
    assert first.words == [Word("Hello", 0.6, 1.0)]
    assert (last.ended_by, last.words, last.updates) == ("done", None, 0)
    run.session.finish(audio_s=3.4, at=103.5)  # done came: the close is the normal end


def test_interim_text_after_the_last_final_at_done_is_an_error() -> None:
    run = Script()
    run.event(final(" One."))
    run.event(interim(" Two"))
    run.session.close_sent()
    with pytest.raises(ProtocolViolationError, match="never finalized: ' Two'"):
        run.event(frame("done"))


def test_a_close_without_done_is_a_drain_error() -> None:
    run = Script()
    run.event(final(" One."))
    run.session.close_sent()
    with pytest.raises(DrainError, match="without done") as caught:
        run.session.finish(audio_s=1.0, at=101.0)
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("frames", "where"),
    [
        ([frame("done")], "done before our close"),
        ([frame("flush_done")], "flush_done with no finalize outstanding"),
    ],
)
def test_out_of_order_events_are_violations(frames: list[str], where: str) -> None:
    run = Script()
    with pytest.raises(ProtocolViolationError, match=where):
        for text in frames:
            run.event(text)


def test_events_after_done_are_violations() -> None:
    run = Script()
    run.session.close_sent()
    run.event(frame("done"))
    with pytest.raises(ProtocolViolationError, match="after done"):
        run.event(final(" late"))


def test_error_events_are_terminal_and_classed_by_status() -> None:
    run = Script()
    with pytest.raises(RequestRejectedError):
        run.event(frame("error", message="bad model", status_code=400))
    other = Script()
    with pytest.raises(ServerErrorEvent) as caught:
        other.event(frame("error", message="overloaded", status_code=500))
    assert caught.value.retryable
