"""The local server over real websockets on loopback: handshake, events, close, limits."""

from __future__ import annotations

import asyncio
import json
import uuid

import numpy as np
import pytest
import soxr
from helpers import Serve
from srvkit import Outcome, encode, query, run, talk, tone_bytes
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from jobrunner.config import Secret
from jobrunner.errors import UsageError
from jobrunner.server import ServerConfig
from jobrunner.server.connection import RateGuard
from jobrunner.server.tones import synthesize, turn_texts

TURNS = ["Hello there.", [" How are", " you?"], " Ünïcödé ✓"]
AUDIO = tone_bytes(TURNS)  # 16 kHz s16le


def test_session_end_to_end(serve: Serve) -> None:
    server = serve()
    out = run(talk(server.url, query(), audio=AUDIO))
    assert out.types[0] == "connected"
    request_id = out.events[0]["request_id"]
    assert uuid.UUID(request_id).version == 4
    assert {e["request_id"] for e in out.events} == {request_id}
    assert out.finals == turn_texts(TURNS)
    assert out.types.count("turn.resume") == 1
    assert out.close_code == 1000
    stats = server.wait_idle()
    assert stats.sessions_total == 1 and stats.sessions_open == 0
    assert stats.audio_seconds == pytest.approx(len(AUDIO) / 2 / 16000)
    assert stats.events_sent == len(out.events)
    assert stats.close_codes == {1000: 1}
    (handshake,) = server.handshakes
    assert handshake.status == 101 and handshake.request_id == request_id


def test_blocking_engines_run_off_the_event_loop(serve: Serve) -> None:
    server = serve(engine_options={"blocking": True})

    async def three() -> list[Outcome]:
        return await asyncio.gather(*(talk(server.url, query(), audio=AUDIO) for _ in range(3)))

    results = run(three())
    assert [out.finals for out in results] == [turn_texts(TURNS)] * 3
    assert server.wait_idle().max_sessions_open >= 2  # they really ran side by side


def test_request_ids_are_fresh_per_connection(serve: Serve) -> None:
    server = serve()
    first = run(talk(server.url, query()))
    second = run(talk(server.url, query()))
    assert first.types == second.types == ["connected"]
    assert first.events[0]["request_id"] != second.events[0]["request_id"]
    assert first.close_code == second.close_code == 1000


@pytest.mark.parametrize(
    ("encoding", "rate", "chunk"),
    [
        ("pcm_s16le", 16000, 1001),
        ("pcm_s32le", 16000, 4099),
        ("pcm_f16le", 16000, 4097),
        ("pcm_f32le", 48000, 19200),
        ("pcm_mulaw", 8000, 800),
        ("pcm_alaw", 44100, 555),
    ],
)
def test_every_encoding_rate_and_chunking_over_the_wire(
    serve: Serve, encoding: str, rate: int, chunk: int
) -> None:
    audio = soxr.resample(synthesize(TURNS, 16000), 16000, rate).astype(np.float32)
    wire = encode(audio, encoding, rate)
    out = run(talk(serve().url, query(encoding, rate), audio=wire, chunk=chunk))
    assert out.finals == turn_texts(TURNS)
    assert out.close_code == 1000


# --- auth and version ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params", "method"),
    [
        ({"Authorization": "Bearer sekret"}, {}, "bearer"),
        ({"X-API-Key": "sekret"}, {}, "x-api-key"),
        ({}, {"api_key": "sekret"}, "api_key"),
        ({}, {"access_token": "sekret"}, "access_token"),
    ],
)
def test_each_way_of_passing_the_key(
    serve: Serve, headers: dict[str, str], params: dict[str, str], method: str
) -> None:
    server = serve(api_key="sekret")
    out = run(talk(server.url, query(**params), headers=headers))
    assert out.status is None and out.close_code == 1000
    assert server.handshakes[-1].auth == method


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic sekret"}, {"X-API-Key": ""}],
)
def test_wrong_or_missing_key_is_401_on_the_upgrade(serve: Serve, headers: dict[str, str]) -> None:
    server = serve(api_key="sekret")
    out = run(talk(server.url, query(), headers=headers))
    assert out.status == 401
    body = json.loads(out.body)
    assert body["error_code"] == "unauthorized" and body["title"] == "Unauthorized"
    assert "sekret" not in out.body.decode() and "wrong" not in out.body.decode()
    assert server.stats.rejected == {401: 1} and server.stats.sessions_total == 0


def test_no_key_needed_without_api_key(serve: Serve) -> None:
    server = serve()
    assert run(talk(server.url, query())).close_code == 1000
    out = run(talk(server.url, query(), headers={"Authorization": "Bearer anything"}))
    assert out.close_code == 1000


def test_secrets_are_masked_in_records(serve: Serve) -> None:
    server = serve(api_key="sekret")
    run(talk(server.url, query(api_key="sekret"), headers={"Authorization": "Bearer sekret"}))
    (record,) = server.handshakes
    assert record.header("authorization") == "Bearer sekret"  # kept for comparisons...
    assert "sekret" not in repr(record) and "sekret" not in str(server.handshakes)  # ...not shown


def test_version_header_query_and_missing(serve: Serve) -> None:
    server = serve()
    headers = {"cartesia-version": "2026-08-14"}
    run(talk(server.url, query(), headers=headers))
    run(talk(server.url, query(cartesia_version="2025-11-04"), headers=headers))
    run(talk(server.url, query()))
    assert [h.version for h in server.handshakes] == ["2026-08-14", "2025-11-04", None]
    bad = run(talk(server.url, query(), headers={"cartesia-version": "v2"}))
    assert bad.types == ["connected", "error"] and bad.close_code == 1008
    assert bad.events[1]["error_code"] == "invalid_version"


def test_unknown_path_is_404(serve: Serve) -> None:
    server = serve()
    out = run(talk(server.url, query(), path="/stt/turns"))
    assert out.status == 404
    assert json.loads(out.body)["error_code"] == "not_found"
    assert server.handshakes[0].path == "/stt/turns" and server.handshakes[0].status == 404


def test_query_is_recorded_as_decoded_pairs(serve: Serve) -> None:
    server = serve()
    raw = "model=ink-2&encoding=pcm_s16le&sample_rate=16000&keyterm=New+York&keyterm=S%C3%A3o%20P"
    run(talk(server.url, raw + "&turn_end_timeout_ms=5600.0"))
    (record,) = server.handshakes
    assert record.param("keyterm") == ["New York", "São P"]
    assert record.query_keys == [
        "model", "encoding", "sample_rate", "keyterm", "keyterm", "turn_end_timeout_ms"
    ]  # fmt: skip
    assert record.status == 101


# --- errors after the upgrade -------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "code"),
    [
        (query(model="ink-whisper"), "invalid_model"),
        (query("pcm_s24le"), "invalid_encoding"),
        (query(rate=96000), "invalid_sample_rate"),
        (query(turn_end_threshold=0.9), "invalid_parameter"),
    ],
)
def test_bad_parameters_get_a_400_error_event_then_close_1008(
    serve: Serve, q: str, code: str
) -> None:
    server = serve()
    out = run(talk(server.url, q, audio=AUDIO[:32000]))
    assert out.types == ["connected", "error"]
    error = out.events[1]
    assert error["status_code"] == 400 and error["title"] == "Bad Request"
    assert error["error_code"] == code and error["message"]
    assert error["request_id"] == out.events[0]["request_id"]
    assert out.close_code == 1008
    assert server.wait_idle().bad_requests == 1


@pytest.mark.parametrize(
    "text", ['{"type": "finalize"}', "close", '{"type": 3}', '{"type": "config", "turn": 7}']
)
def test_unknown_text_frames_are_400(serve: Serve, text: str) -> None:
    out = run(talk(serve().url, query(), texts=[text], audio=AUDIO[:3200]))
    assert out.types == ["connected", "error"]
    assert out.events[1]["status_code"] == 400 and out.events[1]["error_code"] == "invalid_message"
    assert out.close_code == 1008


def test_close_flushes_the_open_turn_then_closes_1000(serve: Serve) -> None:
    audio = tone_bytes(["first", " still talking"], tail_s=0.05)  # no silence to end turn 2
    out = run(talk(serve().url, query(), audio=audio))
    assert out.finals == ["first", " still talking"]
    assert out.types[-1] == "turn.end" and out.close_code == 1000


def test_client_leaving_without_close_frees_the_session(serve: Serve) -> None:
    server = serve()
    out = run(talk(server.url, query(), audio=AUDIO[:16000], send_close=False, quiet_wait_s=0.2))
    assert out.left_open  # without a close message the server waits for more audio...
    stats = server.wait_idle()  # ...until the client leaves: then its handler ends
    assert stats.sessions_total == 1 and stats.sessions_open == 0
    assert stats.close_codes == {}  # the client closed the socket, not the server


def test_config_message_changes_turn_detection_live(serve: Serve) -> None:
    audio = tone_bytes(["one", " two"], gap_s=0.9)
    server = serve()
    assert run(talk(server.url, query(), audio=audio)).finals == ["one", " two"]
    joined = json.dumps({"type": "config", "turn": {"end_threshold": 0.05}}, indent=2)
    assert run(talk(server.url, query(), audio=audio, texts=[joined])).finals == ["one two"]


def test_invalid_config_is_rejected(serve: Serve) -> None:
    config = json.dumps({"type": "config", "turn": {"start_threshold": 0.2}})
    out = run(talk(serve().url, query(), audio=AUDIO[:3200], texts=[config]))
    assert out.types == ["connected", "error"] and out.close_code == 1008
    assert "start_threshold" in out.events[1]["message"]


def test_pings_are_answered_mid_session(serve: Serve) -> None:
    async def scenario(url: str) -> tuple[list[str], int | None]:
        # keepalive off: the only ping is ours, and its waiter resolves only on the pong that
        # echoes this payload (a server that never answers fails with a timeout)
        async with connect(url + "/stt/turns/websocket?" + query(), ping_interval=None) as ws:
            await ws.recv()  # connected
            await ws.send(AUDIO[:16000])
            await asyncio.wait_for(await ws.ping(b"jobrunner-ping"), 5)
            await ws.send(json.dumps({"type": "close"}))
            types = [json.loads(message)["type"] async for message in ws]
            return types, ws.close_code

    types, code = run(scenario(serve().url.replace("http", "ws")))
    assert types[-1] == "turn.end" and code == 1000  # and the session went on normally


# --- overload and concurrency -------------------------------------------------------------


def test_overload_trips_with_error_500_and_close_1011(serve: Serve) -> None:
    server = serve(max_rate=1.25, burst_s=1.5)
    out = run(talk(server.url, query(), audio=AUDIO))  # ~6 s of audio, as fast as possible
    error = out.of("error")[0]
    assert error["status_code"] == 500 and error["error_code"] == "overloaded"
    assert out.close_code == 1011
    stats = server.wait_idle()
    assert stats.overload_trips == 1
    assert 1.5 < stats.audio_seconds < 2.0  # tripped just past the burst allowance


def test_rate_guard_allows_realtime_and_bursts_but_not_sustained_speed() -> None:
    def trips(rate: float, seconds: float, burst_first: float = 0.0) -> bool:
        bucket = RateGuard(1.25, 1.5)
        if burst_first and bucket.add(burst_first, 0.0):
            return True
        chunks = int(seconds * 10)
        return any(bucket.add(0.1, k * 0.1 / rate) for k in range(chunks))

    assert not trips(1.0, 3600)  # an hour at realtime
    assert not trips(1.2, 600)
    assert not trips(1.0, 60, burst_first=1.4)  # a client that pre-buffers a little
    assert trips(1.0, 60, burst_first=1.7)
    assert trips(1.5, 60)  # 0.25 s/s over the drain rate: trips after ~6 s
    assert not RateGuard(0.0, 0.0).add(1000.0, 0.0)  # max_rate 0: check disabled


def test_rate_guard_ignores_late_reads_and_catch_up_bursts() -> None:
    """Frames read late in a burst (a busy server) or sent late in a burst (a client catching
    up after its own stall) are not a fast client: only the average since the start counts."""
    guard = RateGuard(1.25, 1.5)
    # 10 s at realtime, then the server stalls 4 s and reads 40 queued frames at once
    assert not any(guard.add(0.1, k * 0.1) for k in range(100))
    assert not any(guard.add(0.1, 14.0) for _ in range(40))
    # and keeps going at realtime afterwards
    assert not any(guard.add(0.1, 14.0 + k * 0.1) for k in range(100))
    # but a client that really sends at 2x is caught, however it is read
    fast = RateGuard(1.25, 1.5)
    assert any(fast.add(0.1, k * 0.05) for k in range(200))


def test_max_sessions_refuses_with_429_until_a_slot_frees(serve: Serve) -> None:
    server = serve(max_sessions=1)
    url = server.url.replace("http", "ws") + "/stt/turns/websocket?" + query()

    async def scenario() -> None:
        async with connect(url) as held:
            await held.recv()
            with pytest.raises(InvalidStatus) as refused:
                await connect(url)
            response = refused.value.response
            assert response.status_code == 429 and response.headers["Retry-After"] == "1"
            assert json.loads(response.body)["error_code"] == "concurrency_limit_exceeded"
            await held.send(json.dumps({"type": "close"}))
            await held.wait_closed()
        server.wait_idle()
        async with connect(url) as again:
            assert json.loads(await again.recv())["type"] == "connected"

    run(scenario())
    stats = server.stats
    assert stats.rejected == {429: 1} and stats.sessions_total == 2
    assert stats.max_sessions_open == 1


def test_binding_beyond_loopback_needs_public_and_a_key() -> None:
    with pytest.raises(UsageError, match="--public"):
        ServerConfig(host="0.0.0.0")
    with pytest.raises(UsageError, match="--api-key"):
        ServerConfig(host="0.0.0.0", public=True)
    ServerConfig(host="0.0.0.0", public=True, api_key=Secret("k"))
    ServerConfig(host="::1")
    ServerConfig(host="localhost")
