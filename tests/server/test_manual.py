"""The Manual endpoint (``/stt/websocket``) over real websockets: finalize, close, errors."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import Serve
from srvkit import converse, finals_of, manual_query, run, tone_bytes

FIRST = tone_bytes(["Hello there."], tail_s=0.3)
SECOND = tone_bytes([" How are", " you?"], lead_s=0.2, tail_s=0.3)


def test_finalize_then_close_gives_finals_flush_done_and_done(serve: Serve) -> None:
    server = serve()
    out = run(converse(server.url, manual_query(), [FIRST, "finalize", SECOND, "close"]))
    assert "connected" not in out.types
    assert finals_of(out) == ["Hello there.", " How are you?"]
    kinds = ["final" if e.get("is_final") else e["type"] for e in out.events]
    assert [k for k in kinds if k != "transcript"] == ["final", "flush_done", "final", "done"]
    assert out.close_code == 1000
    request_id = out.events[0]["request_id"]
    assert uuid.UUID(request_id).version == 4
    assert {e["request_id"] for e in out.events} == {request_id}
    stats = server.wait_idle()
    assert stats.close_codes == {1000: 1} and stats.sessions_total == 1


def test_interims_grow_then_finals_carry_words_duration_and_language(serve: Serve) -> None:
    out = run(converse(serve().url, manual_query(), [FIRST, "finalize", SECOND, "close"]))
    transcripts = out.of("transcript")
    interims = [e for e in transcripts if not e["is_final"]]
    assert interims, "interim transcripts while the audio arrives"
    before_flush = [e["text"] for e in interims[: len(interims) // 2 or 1]]
    assert all("Hello there.".startswith(text) for text in before_flush)
    first, second = [e for e in transcripts if e["is_final"]]
    assert [w["word"] for w in first["words"]] == ["Hello", "there."]
    assert [w["word"] for w in second["words"]] == ["How", "are", "you?"]
    assert first["words"][0]["start"] < first["words"][0]["end"] < first["words"][1]["start"]
    # word times run on over the session: the second segment's words come after the first's
    assert second["words"][0]["start"] > len(FIRST) / 2 / 16000
    assert first["duration"] == pytest.approx(len(FIRST) / 2 / 16000, abs=0.01)
    assert second["duration"] == pytest.approx(len(SECOND) / 2 / 16000, abs=0.01)
    assert {e["language"] for e in transcripts} == {"en"}


@pytest.mark.parametrize("command", ["close", "done"])
def test_close_and_legacy_done_flush_the_open_turn(serve: Serve, command: str) -> None:
    audio = tone_bytes(["still talking"], tail_s=0.05)  # no silence: the turn is open
    out = run(converse(serve().url, manual_query(), [audio, command]))
    assert finals_of(out) == ["still talking"]
    assert out.types[-2:] == ["transcript", "done"] and out.close_code == 1000


def test_finalize_without_new_audio_only_acknowledges(serve: Serve) -> None:
    out = run(converse(serve().url, manual_query(), [FIRST, "finalize", "finalize", "close"]))
    assert finals_of(out) == ["Hello there."]
    assert out.types.count("flush_done") == 2 and out.types[-1] == "done"


def test_the_turns_within_one_finalize_make_one_final(serve: Serve) -> None:
    audio = tone_bytes(["one", " two"], gap_s=0.9)  # the engine ends turn one by itself
    out = run(converse(serve().url, manual_query(), [audio, "finalize", "close"]))
    assert finals_of(out) == ["one two"]


def test_a_finalize_inside_a_pause_loses_no_audio(serve: Serve) -> None:
    # " ok." alone (four symbols, no hum) is too short to start a turn: Manual must not need one
    whole = tone_bytes([[" Wait,", " ok."]], tail_s=0.3)
    before_pause = tone_bytes([" Wait,"], tail_s=0.2)  # ends inside the 0.45 s pause
    assert whole.startswith(before_pause)
    steps = [before_pause, "finalize", whole[len(before_pause) :], "close"]
    out = run(converse(serve().url, manual_query(), steps))
    assert finals_of(out) == [" Wait,", " ok."]
    assert out.types[-1] == "done" and out.close_code == 1000


@pytest.mark.parametrize("text", ['{"type": "finalize"}', '{"type": "close"}', "FINALIZE", "flush"])
def test_json_and_unknown_commands_are_400(serve: Serve, text: str) -> None:
    server = serve()
    out = run(converse(server.url, manual_query(), [FIRST[:3200], text, "close"]))
    (error,) = out.of("error")
    assert error["status_code"] == 400 and error["error_code"] == "invalid_message"
    assert "finalize" in error["message"]
    assert out.close_code == 1008
    assert server.wait_idle().bad_requests == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"model": "ink-3"}, "invalid_model"),
        ({"min_volume": "0.5"}, "invalid_parameter"),  # ink-2: ink-whisper only
        ({"model": "ink-whisper", "max_silence_duration_secs": "-1"}, "invalid_parameter"),
        ({"model": "ink-whisper", "min_volume": "loud"}, "invalid_parameter"),
        ({"language": "English"}, "invalid_language"),
        ({"sample_rate": "96000"}, "invalid_sample_rate"),
    ],
)
def test_bad_parameters_get_a_400_error_then_close_1008(
    serve: Serve, params: dict[str, str], code: str
) -> None:
    q = manual_query(**params)
    out = run(converse(serve().url, q, [FIRST[:3200], "close"]))
    assert out.types == ["error"]
    assert out.events[0]["status_code"] == 400 and out.events[0]["error_code"] == code
    assert out.close_code == 1008


def test_whisper_parameters_and_language_are_accepted(serve: Serve) -> None:
    server = serve()
    q = manual_query(model="ink-whisper", min_volume="0.2", max_silence_duration_secs="1.5",
                     language="de")  # fmt: skip
    out = run(converse(server.url, q, [FIRST, "close"]))
    assert finals_of(out) == ["Hello there."] and out.close_code == 1000
    assert {e["language"] for e in out.of("transcript")} == {"de"}
    assert server.handshakes[0].path == "/stt/websocket"
    assert server.handshakes[0].param("min_volume") == ["0.2"]


def test_wrong_key_is_401_on_the_upgrade(serve: Serve) -> None:
    server = serve(api_key="sekret")
    out = run(converse(server.url, manual_query(), ["close"], headers={"X-API-Key": "no"}))
    assert out.status == 401 and json.loads(out.body)["error_code"] == "unauthorized"
    ok = run(converse(server.url, manual_query(api_key="sekret"), [FIRST, "close"]))
    assert finals_of(ok) == ["Hello there."]
