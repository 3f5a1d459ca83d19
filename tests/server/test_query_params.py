"""Upgrade query validation, as pure functions (the socket side is in test_server_ws)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from jobrunner.server.params import Rejection, SessionRequest, parse_request
from jobrunner.server.turn_detector import TurnParams

BASE = "model=ink-2&encoding=pcm_s16le&sample_rate=16000"


def parse(query: str, version: str | None = None) -> SessionRequest | Rejection:
    return parse_request(parse_qsl(query, keep_blank_values=True), version_header=version)


def test_minimal_request() -> None:
    request = parse(BASE)
    assert request == SessionRequest("ink-2", "pcm_s16le", 16000, TurnParams())


def test_form_decoding_floats_and_repeated_keyterms() -> None:
    request = parse(
        BASE + "&turn_end_timeout_ms=5600.0&turn_start_threshold=0.85"
        "&keyterm=New+York&keyterm=S%C3%A3o%20Paulo&sample_rate=8000.0"
    )
    assert isinstance(request, SessionRequest)
    assert request.sample_rate == 8000
    assert request.turn == TurnParams(start_threshold=0.85, end_timeout_ms=5600.0)
    assert request.keyterms == ("New York", "São Paulo")


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("encoding=pcm_s16le&sample_rate=16000", "missing_parameter", "model"),
        ("model=ink-whisper&encoding=pcm_s16le&sample_rate=16000", "invalid_model", "ink-whisper"),
        ("model=ink-2&encoding=mp3&sample_rate=16000", "invalid_encoding", "mp3"),
        ("model=ink-2&sample_rate=16000", "missing_parameter", "encoding"),
        ("model=ink-2&encoding=pcm_s16le", "missing_parameter", "sample_rate"),
        ("model=ink-2&encoding=pcm_s16le&sample_rate=7999", "invalid_sample_rate", "8000"),
        ("model=ink-2&encoding=pcm_s16le&sample_rate=96000", "invalid_sample_rate", "48000"),
        ("model=ink-2&encoding=pcm_s16le&sample_rate=16000.5", "invalid_sample_rate", "integer"),
        ("model=ink-2&encoding=pcm_s16le&sample_rate=fast", "invalid_sample_rate", "number"),
        (BASE + "&turn_start_threshold=0.95", "invalid_parameter", "between 0.5 and 0.9"),
        (BASE + "&turn_end_threshold=0.01", "invalid_parameter", "turn_end_threshold"),
        (BASE + "&turn_eager_end_threshold=", "invalid_parameter", "empty"),
        (BASE + "&turn_end_timeout_ms=100", "invalid_parameter", "640"),
        (BASE + "&turn_end_timeout_ms=nan", "invalid_parameter", "finite"),
        (
            BASE + "&turn_start_threshold=0.5&turn_eager_end_threshold=0.6",
            "invalid_parameter",
            "start > eager_end > end",
        ),
        (BASE + "&keyterm=", "invalid_keyterm", "empty"),
        (BASE + "&keyterm=x" * 101, "invalid_keyterm", "100"),
        (BASE + ("&keyterm=" + "y" * 100) * 13, "invalid_keyterm", "1200"),
        (BASE + "&cartesia_version=yesterday", "invalid_version", "YYYY-MM-DD"),
        (BASE + "&cartesia_version=2026-02-30", "invalid_version", "2026-02-30"),
    ],
)
def test_rejections(query: str, code: str, words: str) -> None:
    rejection = parse(query)
    assert isinstance(rejection, Rejection)
    assert rejection.status_code == 400 and rejection.error_code == code
    assert words in rejection.message


def test_version_query_wins_over_header_and_missing_is_accepted() -> None:
    request = parse(BASE + "&cartesia_version=2025-11-04", version="not a date")
    assert isinstance(request, SessionRequest) and request.version == "2025-11-04"
    assert isinstance(parse(BASE, version="bad"), Rejection)
    missing = parse(BASE)
    assert isinstance(missing, SessionRequest) and missing.version is None


def test_unknown_parameters_are_ignored() -> None:
    assert isinstance(parse(BASE + "&language=en&api_key=k"), SessionRequest)
