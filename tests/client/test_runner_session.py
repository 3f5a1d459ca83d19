"""One file through a real websocket session with the bundled server (tones engine)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import numpy as np
import pytest
import soundfile as sf
from clientkit import EXPECTED, TURNS
from helpers import Serve, fast_settings

from jobrunner.client import auto as runner
from jobrunner.client.auto import LiveEvent, OnEvent, SessionResult, transcribe_file
from jobrunner.config import Settings
from jobrunner.errors import AudioError, RequestRejectedError, SessionCancelled
from jobrunner.server.tones import synthesize, turn_texts


def run(
    path: Path,
    settings: Settings,
    *,
    on_event: OnEvent | None = None,
    cancel_event: anyio.Event | None = None,
) -> SessionResult:
    async def main() -> SessionResult:
        return await transcribe_file(path, settings, on_event=on_event, cancel_event=cancel_event)

    return anyio.run(main)


def test_transcript_is_the_verbatim_join_of_the_turn_ends(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    seen: list[LiveEvent] = []
    result = run(tone_wav, fast_settings(server), on_event=seen.append)

    assert result.transcript == EXPECTED
    assert [t.transcript for t in result.turns] == turn_texts(TURNS)
    assert result.turns[1].eager_ends >= 1 and result.turns[1].resumes >= 1
    assert (result.close_code, result.close_sent, result.drained) == (1000, True, True)
    assert result.audio_s_sent == pytest.approx(result.plan.duration_s, abs=1e-3)
    assert result.request_id == server.handshakes[-1].request_id
    assert result.connect_tries == 1 and result.unknown_events == 0
    assert result.started_at < result.ended_at and result.started_at.tzinfo is not None

    # events arrived while audio was still going out, with client-side timings
    starts = [t.start_audio_s for t in result.turns]
    assert starts == sorted(starts) and starts[0] < result.audio_s_sent / 2
    assert all(t.end_audio_s is not None and t.end_audio_s >= t.start_audio_s for t in result.turns)
    assert seen[0].event.type == "connected"
    ends = [e for e in seen if e.event.type == "turn.end"]
    assert [(e.turn_index, e.text) for e in ends] == list(enumerate(turn_texts(TURNS)))
    updates = [e.text for e in seen if e.event.type == "turn.update" and e.turn_index == 0]
    assert updates[-1] == "Hello there." and len(updates) > 1  # cumulative, not appended


@pytest.mark.parametrize(
    ("subtype", "rate", "channels", "wire", "wire_rate"),
    [
        ("PCM_16", 16000, 1, "pcm_s16le", 16000),
        ("PCM_24", 24000, 1, "pcm_s32le", 24000),
        ("FLOAT", 44100, 1, "pcm_f32le", 44100),
        ("ULAW", 8000, 1, "pcm_mulaw", 8000),
        ("ALAW", 8000, 1, "pcm_alaw", 8000),
        ("PCM_16", 96000, 1, "pcm_s16le", 16000),
        ("PCM_16", 22050, 2, "pcm_s16le", 22050),
        ("FLAC", 32000, 1, "pcm_s16le", 32000),
    ],
)
def test_every_wire_format_the_file_implies_is_declared_and_understood(
    serve: Serve, tmp_path: Path, subtype: str, rate: int, channels: int, wire: str, wire_rate: int
) -> None:
    turns = ["Abc", " d-e f!"]
    audio = synthesize(turns, rate)
    if channels == 2:  # a quiet right channel: the mean keeps the tones decodable
        audio = np.stack([audio, 0.3 * audio], axis=1)
    path = tmp_path / ("a.flac" if subtype == "FLAC" else "a.wav")
    sf.write(path, audio, rate, subtype="PCM_16" if subtype == "FLAC" else subtype)

    server = serve()
    result = run(path, fast_settings(server))
    assert result.transcript == "Abc d-e f!"
    handshake = server.handshakes[-1]
    assert handshake.param("encoding") == [wire]
    assert handshake.param("sample_rate") == [str(wire_rate)]
    assert result.plan.encoding == wire and result.plan.downmix == (
        "mono" if channels == 2 else None
    )


def test_a_bad_parameter_is_rejected_for_good(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    with pytest.raises(RequestRejectedError) as info:
        run(tone_wav, fast_settings(server, model="ink-nonexistent"))
    assert not info.value.retryable
    assert info.value.http_status == 400


def test_an_unreadable_file_is_an_audio_error_before_any_connection(
    serve: Serve, tmp_path: Path
) -> None:
    server = serve()
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    with pytest.raises(AudioError):
        run(junk, fast_settings(server))
    assert server.stats.upgrades == 0


def test_cancel_event_stops_the_session_and_closes_the_socket(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    cancel = anyio.Event()

    def on_event(live: LiveEvent) -> None:
        if live.event.type == "turn.end":
            cancel.set()

    with pytest.raises(SessionCancelled) as info:
        run(tone_wav, fast_settings(server, pace=5.0), on_event=on_event, cancel_event=cancel)
    error = info.value
    assert not error.retryable
    assert error.facts is not None
    assert 0 < error.facts.audio_s_sent < 4.0 and not error.facts.close_sent
    assert error.facts.turns_discarded == 1
    assert server.wait_idle().sessions_open == 0


def test_pace_above_realtime_warns_once(
    serve: Serve, tone_wav: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "_pace_warned", False)
    server = serve()
    with caplog.at_level(logging.WARNING, logger="jobrunner.client.auto"):
        run(tone_wav, fast_settings(server))
        run(tone_wav, fast_settings(server))
    warnings = [r for r in caplog.records if "realtime" in r.getMessage()]
    assert len(warnings) == 1 and "20x" in warnings[0].getMessage()
