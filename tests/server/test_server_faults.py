"""Each injected fault, as a client on the wire sees it."""

from __future__ import annotations

import json

from helpers import Serve
from srvkit import query, run, talk, tone_bytes

TURNS = ["alpha beta", " gamma"]
AUDIO = tone_bytes(TURNS)  # ~3 s at 16 kHz s16le
OPEN_END = tone_bytes(TURNS, tail_s=0.05)  # the last turn ends only with the close's flush


def test_upgrade_503_then_normal_service(serve: Serve) -> None:
    server = serve(faults="upgrade_503=first:1")
    refused = run(talk(server.url, query(), audio=AUDIO))
    assert refused.status == 503 and json.loads(refused.body)["error_code"] == "injected_fault"
    assert run(talk(server.url, query(), audio=AUDIO)).finals == TURNS
    stats = server.wait_idle()
    assert stats.faults_injected == {"upgrade_503": 1} and stats.rejected == {503: 1}


def test_upgrade_429(serve: Serve) -> None:
    server = serve(faults="upgrade_429=first:2")
    assert [run(talk(server.url, query())).status for _ in range(3)] == [429, 429, None]


def test_drop_is_an_abrupt_close_without_close_frame(serve: Serve) -> None:
    server = serve(faults="drop@1=first:1")
    out = run(talk(server.url, query(), audio=AUDIO, chunk=3200))
    assert out.close_code == 1006
    assert out.types[0] == "connected" and out.finals == []  # the first turn ends at ~1.4 s
    assert server.wait_idle().faults_injected == {"drop": 1}
    assert run(talk(server.url, query(), audio=AUDIO)).finals == TURNS


def test_drop_beyond_the_audio_fires_at_close(serve: Serve) -> None:
    out = run(talk(serve(faults="drop@60=first:1").url, query(), audio=OPEN_END))
    assert out.close_code == 1006
    assert out.finals == TURNS[:1]  # the open turn was never flushed


def test_error_event_5xx_closes_1011(serve: Serve) -> None:
    server = serve(faults="error_503@0.5=first:1")
    out = run(talk(server.url, query(), audio=AUDIO))
    error = out.of("error")[0]
    assert error["status_code"] == 503 and error["title"] == "Service Unavailable"
    assert error["request_id"] == out.events[0]["request_id"]
    assert out.types[-1] == "error" and out.close_code == 1011
    assert server.wait_idle().close_codes == {1011: 1}


def test_error_event_4xx_closes_1008(serve: Serve) -> None:
    out = run(talk(serve(faults="error_429=1.0").url, query(), audio=AUDIO))
    assert out.of("error")[0]["status_code"] == 429 and out.close_code == 1008


def test_stall_after_close_never_answers(serve: Serve) -> None:
    server = serve(faults="stall=first:1")
    out = run(talk(server.url, query(), audio=OPEN_END, quiet_wait_s=0.5))
    assert out.left_open  # no close after ours
    assert out.finals == TURNS[:1]  # the turn ended by silence came before the close
    assert server.wait_idle().faults_injected == {"stall": 1}


def test_stall_from_the_start_sends_nothing_but_connected(serve: Serve) -> None:
    out = run(talk(serve(faults="stall@0=1.0").url, query(), audio=AUDIO, quiet_wait_s=0.3))
    assert out.types == ["connected"] and out.left_open


def test_slow_drain_delays_the_final_events(serve: Serve) -> None:
    server = serve(faults="slow_drain@5=1.0")
    held = run(talk(server.url, query(), audio=OPEN_END, quiet_wait_s=0.3))
    assert held.left_open and held.finals == TURNS[:1]
    late = run(talk(serve(faults="slow_drain@0.2=1.0").url, query(), audio=OPEN_END))
    assert late.finals == TURNS and late.close_code == 1000


def test_limit_caps_faults_so_retries_converge(serve: Serve) -> None:
    server = serve(faults="drop@0.2=1.0,limit=2")
    codes = [run(talk(server.url, query(), audio=AUDIO)).close_code for _ in range(3)]
    assert codes == [1006, 1006, 1000]


def test_same_seed_same_faults(serve: Serve) -> None:
    def pattern(seed: int) -> list[int | None]:
        server = serve(faults="upgrade_503=0.5", seed=seed)
        return [run(talk(server.url, query())).status for _ in range(12)]

    first = pattern(3)
    assert first == pattern(3)  # a new server: nothing carried over but the seed
    assert first.count(503) not in (0, 12)
    assert pattern(4) != first
