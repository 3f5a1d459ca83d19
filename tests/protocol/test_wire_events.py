"""Parsing server frames and encoding client messages (protocol.md section 4)."""

from __future__ import annotations

import json

import pytest

from jobrunner.errors import ProtocolViolationError
from jobrunner.protocol.events import (
    CLOSE_MESSAGE,
    ConfigRequest,
    Connected,
    ErrorEvent,
    TurnEnd,
    TurnUpdate,
    UnknownEvent,
    encode_config,
    encode_server_event,
    parse_client_message,
    parse_server_event,
)


def test_turn_end_text_is_kept_verbatim_including_leading_space() -> None:
    event = parse_server_event('{"type":"turn.end","request_id":"r1","transcript":"  Hi,  there "}')
    assert event == TurnEnd(transcript="  Hi,  there ", request_id="r1")


def test_indented_json_parses_the_same() -> None:
    text = json.dumps({"type": "turn.update", "transcript": " a b", "request_id": "x"}, indent=4)
    assert parse_server_event(text) == TurnUpdate(transcript=" a b", request_id="x")


def test_current_error_shape() -> None:
    event = parse_server_event(
        json.dumps(
            {
                "type": "error",
                "message": "Unsupported encoding",
                "status_code": 400,
                "title": "Bad Request",
                "error_code": "invalid_encoding",
                "request_id": "r",
                "done": True,
            }
        )
    )
    assert isinstance(event, ErrorEvent)
    assert (event.message, event.status_code, event.title) == (
        "Unsupported encoding",
        400,
        "Bad Request",
    )
    assert (event.error_code, event.request_id, event.done) == ("invalid_encoding", "r", True)


@pytest.mark.parametrize(
    ("frame", "message", "status"),
    [
        ({"type": "error", "message": "slow down", "code": 429}, "slow down", 429),
        ({"type": "error", "error": "boom"}, "boom", None),
        ({"type": "error", "title": "Internal", "status_code": "500"}, "Internal", 500),
        ({"type": "error", "message": "", "error": "x", "status_code": 503.0}, "x", 503),
    ],
)
def test_legacy_error_shapes(frame: dict[str, object], message: str, status: int | None) -> None:
    event = parse_server_event(json.dumps(frame))
    assert isinstance(event, ErrorEvent)
    assert (event.message, event.status_code) == (message, status)


def test_unknown_type_is_kept_with_its_data() -> None:
    event = parse_server_event('{"type":"turn.metrics","request_id":"r","x":[1,2]}')
    assert isinstance(event, UnknownEvent)
    assert event.type == "turn.metrics"
    assert event.data["x"] == [1, 2]
    assert event.request_id == "r"


@pytest.mark.parametrize(
    "frame",
    ["not json", "[1,2]", '{"no_type":1}', '{"type":5}', '{"type":"turn.end","transcript":3}'],
)
def test_malformed_frames_are_violations(frame: str) -> None:
    with pytest.raises(ProtocolViolationError):
        parse_server_event(frame)


def test_server_encoding_round_trips_and_omits_none() -> None:
    event = Connected(request_id="abc")
    text = encode_server_event(event)
    assert json.loads(text) == {"type": "connected", "request_id": "abc"}
    assert parse_server_event(text) == event
    assert json.loads(encode_server_event(ErrorEvent(message="m", status_code=500))) == {
        "type": "error",
        "message": "m",
        "status_code": 500,
    }


def test_client_messages_match_the_sdk_encoding() -> None:
    # the SDK sends dict commands through json.dumps with default separators: written out here
    assert CLOSE_MESSAGE == '{"type": "close"}'
    request = ConfigRequest(end_threshold=0.3, end_timeout_ms=800)
    assert encode_config(request) == (
        '{"type": "config", "turn": {"end_threshold": 0.3, "end_timeout_ms": 800}}'
    )
    assert parse_client_message(encode_config(request)) == ConfigRequest(
        end_threshold=0.3, end_timeout_ms=800.0
    )


def test_client_message_violations() -> None:
    for frame in ['{"type":"finalize"}', "close", '{"type":"config","turn":{"end_threshold":"x"}}']:
        with pytest.raises(ProtocolViolationError):
            parse_client_message(frame)
