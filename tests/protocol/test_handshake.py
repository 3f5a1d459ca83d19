"""The upgrade URL and headers, against URLs written out by hand from what the SDK sends."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from jobrunner import __version__
from jobrunner.config import Secret, Settings
from jobrunner.errors import ConfigError
from jobrunner.protocol.handshake import USER_AGENT, StreamParams, build_headers, build_url

BASIC = StreamParams(model="ink-2", encoding="pcm_s16le", sample_rate=16000)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://api.cartesia.ai", "wss://api.cartesia.ai/stt/turns/websocket"),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/stt/turns/websocket"),
        ("http://127.0.0.1:8765/", "ws://127.0.0.1:8765/stt/turns/websocket"),
        ("http://localhost:9000/proxy/v1/", "ws://localhost:9000/proxy/v1/stt/turns/websocket"),
        ("HTTPS://API.Example.com:443", "wss://api.example.com/stt/turns/websocket"),
        ("http://[::1]:8765", "ws://[::1]:8765/stt/turns/websocket"),
        ("wss://edge.example", "wss://edge.example/stt/turns/websocket"),
    ],
)
def test_base_url_to_endpoint(base: str, expected: str) -> None:
    assert build_url(base, BASIC) == f"{expected}?encoding=pcm_s16le&model=ink-2&sample_rate=16000"


def test_full_query_in_sdk_order_with_form_encoding() -> None:
    params = StreamParams(
        model="ink-2",
        encoding="pcm_mulaw",
        sample_rate=8000,
        keyterms=("Zoë & co", "x+y", "50%", "a/b"),
        turn_start_threshold=0.8,
        turn_eager_end_threshold=0.4,
        turn_end_threshold=0.05,
        turn_end_timeout_ms=5600,
    )
    # Written from the URL cartesia 4.2 hands to websockets.connect for the same parameters.
    assert build_url("https://api.cartesia.ai", params) == (
        "wss://api.cartesia.ai/stt/turns/websocket?encoding=pcm_mulaw&model=ink-2"
        "&sample_rate=8000&keyterm=Zo%C3%AB+%26+co&keyterm=x%2By&keyterm=50%25&keyterm=a%2Fb"
        "&turn_eager_end_threshold=0.4&turn_end_threshold=0.05&turn_end_timeout_ms=5600"
        "&turn_start_threshold=0.8"
    )


def test_query_decodes_back_to_the_parameters() -> None:
    params = StreamParams(
        model="ink-2", encoding="pcm_f32le", sample_rate=48000, keyterms=("São Paulo", "C++")
    )
    query = parse_qsl(urlsplit(build_url("http://h", params)).query)
    assert query == [
        ("encoding", "pcm_f32le"),
        ("model", "ink-2"),
        ("sample_rate", "48000"),
        ("keyterm", "São Paulo"),
        ("keyterm", "C++"),
    ]


def test_base_url_query_comes_first() -> None:
    url = build_url("https://proxy.example/?tenant=a b", BASIC)
    assert url.startswith("wss://proxy.example/stt/turns/websocket?tenant=a+b&encoding=")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"model": " "}, "model"),
        ({"encoding": "pcm_s24le"}, "encoding"),
        ({"sample_rate": 7999}, "sample_rate"),
        ({"sample_rate": 48001}, "sample_rate"),
        ({"keyterms": ("ok", "")}, "keyterm"),
        ({"keyterms": tuple(f"t{i}" for i in range(101))}, "keyterm"),
        ({"keyterms": ("x" * 601, "y" * 600)}, "keyterm"),
        ({"turn_start_threshold": 0.95}, "turn_start_threshold"),
        ({"turn_eager_end_threshold": 0.25}, "turn_eager_end_threshold"),
        ({"turn_end_threshold": 0.01}, "turn_end_threshold"),
        ({"turn_end_timeout_ms": 639}, "turn_end_timeout_ms"),
        ({"turn_end_timeout_ms": 11201}, "turn_end_timeout_ms"),
        # in range alone, but end must stay below eager end (default 0.4)
        ({"turn_end_threshold": 0.45}, "turn_end_threshold < turn_eager_end_threshold"),
    ],
)
def test_out_of_range_parameters_are_named(changes: dict[str, object], named: str) -> None:
    params = StreamParams(**{**vars(BASIC), **changes})
    with pytest.raises(ConfigError, match=named.replace("+", r"\+")):
        build_url("https://api.cartesia.ai", params)


def test_range_limits_are_inclusive() -> None:
    params = StreamParams(
        model="ink-2",
        encoding="pcm_alaw",
        sample_rate=8000,
        keyterms=tuple("k" * 12 for _ in range(100)),
        turn_start_threshold=0.9,
        turn_eager_end_threshold=0.3,
        turn_end_threshold=0.05,
        turn_end_timeout_ms=11200,
    )
    assert "turn_end_timeout_ms=11200" in build_url("http://h", params)


@pytest.mark.parametrize("base", ["ftp://h", "api.cartesia.ai", "http://", "http://h#frag"])
def test_bad_base_urls(base: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        build_url(base, BASIC)


def test_from_settings_takes_the_stream_format_from_the_file() -> None:
    settings = Settings(keyterms=("Cartesia",), turn_end_timeout_ms=800, turn_end_threshold=0.1)
    params = StreamParams.from_settings(settings, encoding="pcm_s32le", sample_rate=44100)
    assert params == StreamParams(
        model="ink-2",
        encoding="pcm_s32le",
        sample_rate=44100,
        keyterms=("Cartesia",),
        turn_end_threshold=0.1,
        turn_end_timeout_ms=800,
    )
    assert build_url(settings.base_url, params).endswith(
        "keyterm=Cartesia&turn_end_threshold=0.1&turn_end_timeout_ms=800"
    )


def test_headers() -> None:
    assert build_headers(Secret("sk_1"), "2026-08-14") == {
        "Authorization": "Bearer sk_1",
        "cartesia-version": "2026-08-14",
    }
    assert build_headers("", "2025-11-04") == {"cartesia-version": "2025-11-04"}
    assert USER_AGENT == f"jobrunner/{__version__}"
    with pytest.raises(ConfigError, match="cartesia_version"):
        build_headers("k", "latest")
