"""Every fault the bundled server can inject maps to the right error and retry decision."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from clientkit import EXPECTED
from helpers import Serve, fast_settings

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.client.transport import connect, connect_with_retry
from jobrunner.config import Secret, Settings
from jobrunner.errors import (
    AuthenticationError,
    ConnectionLostError,
    DrainError,
    RateLimitedError,
    RequestRejectedError,
    ServerErrorEvent,
    ServerHandshakeError,
    SessionError,
    StallError,
)
from jobrunner.protocol.handshake import build_headers
from jobrunner.server import LocalServer


def run(path: Path, settings: Settings) -> SessionResult:
    async def main() -> SessionResult:
        return await transcribe_file(path, settings)

    return anyio.run(main)


# (fault spec, settings changes, error class, retryable, close_sent, close code)
MID_SESSION: list[tuple[str, dict[str, Any], type[SessionError], bool, bool, int | None]] = [
    ("error_500@1=1.0", {}, ServerErrorEvent, True, False, None),
    ("error_503@1=1.0", {}, ServerErrorEvent, True, False, None),
    ("error_400@1=1.0", {}, RequestRejectedError, False, False, None),
    ("drop@1=1.0", {}, ConnectionLostError, True, False, 1006),
    # the drop fires at our close: the drain is cut short by an abnormal close
    ("drop@600=1.0", {}, ConnectionLostError, True, True, 1006),
    ("stall@1=1.0", {"stall_timeout_s": 0.5}, StallError, True, True, None),
    ("stall=1.0", {"stall_timeout_s": 0.5}, StallError, True, True, None),
    # the server drains, but slower than we allow: never a success with a partial transcript
    ("slow_drain@3=1.0", {"drain_timeout_s": 0.5}, DrainError, True, True, None),
]


@pytest.mark.parametrize(
    ("spec", "changes", "error", "retryable", "close_sent", "close_code"),
    MID_SESSION,
    ids=[case[0] for case in MID_SESSION],
)
def test_mid_session_faults(
    serve: Serve,
    tone_wav: Path,
    spec: str,
    changes: dict[str, Any],
    error: type[SessionError],
    retryable: bool,
    close_sent: bool,
    close_code: int | None,
) -> None:
    server = serve(faults=spec)
    with pytest.raises(SessionError) as info:
        run(tone_wav, fast_settings(server, **changes))
    exc = info.value
    assert type(exc) is error
    assert exc.retryable is retryable
    facts = exc.facts
    assert facts is not None
    assert facts.request_id == server.handshakes[-1].request_id
    assert facts.connect_tries == 1 and facts.audio_s_sent > 0.5
    assert facts.close_sent is close_sent and facts.close_code == close_code
    assert not facts.drained
    if isinstance(exc, ServerErrorEvent):
        assert exc.http_status == int(spec[6:9])


def test_a_slow_drain_within_the_timeouts_succeeds(serve: Serve, tone_wav: Path) -> None:
    server = serve(faults="slow_drain@0.4=1.0")
    result = run(tone_wav, fast_settings(server))
    assert result.transcript == EXPECTED
    # a causal lower bound, not a speed: the server waited 0.4 s after our close before it
    # closed; asyncio may fire that timer up to its clock resolution early (0.3995 was seen)
    assert result.drain_s >= 0.4 - 0.01


@pytest.mark.parametrize(
    ("spec", "error", "status"),
    [("upgrade_503=1.0", ServerHandshakeError, 503), ("upgrade_429=1.0", RateLimitedError, 429)],
)
def test_upgrade_refusals_are_retried_then_reported(
    serve: Serve, tone_wav: Path, spec: str, error: type[SessionError], status: int
) -> None:
    server = serve(faults=spec)
    with pytest.raises(error) as info:
        run(tone_wav, fast_settings(server, connect_tries=3))
    assert info.value.retryable and info.value.http_status == status
    assert info.value.facts is not None and info.value.facts.connect_tries == 3
    assert server.stats.upgrades == 3


def test_a_refused_upgrade_that_clears_up_costs_only_tries(serve: Serve, tone_wav: Path) -> None:
    server = serve(faults="upgrade_503=first:2")
    result = run(tone_wav, fast_settings(server, connect_tries=3))
    assert result.transcript == EXPECTED and result.connect_tries == 3


@pytest.mark.parametrize("key", ["wrong-key-123", ""])
def test_a_wrong_or_missing_key_fails_at_once_and_never_shows_the_key(
    serve: Serve, tone_wav: Path, key: str
) -> None:
    server = serve(api_key="right-key-456")
    with pytest.raises(AuthenticationError) as info:
        run(tone_wav, fast_settings(server, api_key=Secret(key), connect_tries=5))
    exc = info.value
    assert not exc.retryable and exc.http_status == 401 and exc.exit_code == 3
    assert "CARTESIA_API_KEY" in str(exc)
    assert "wrong-key-123" not in str(exc) and "right-key-456" not in str(exc)
    assert server.stats.upgrades == 1  # not retried


def test_the_right_key_is_accepted(serve: Serve, tone_wav: Path) -> None:
    server = serve(api_key="right-key-456")
    result = run(tone_wav, fast_settings(server, api_key=Secret("right-key-456")))
    assert result.transcript == EXPECTED
    assert server.handshakes[-1].auth == "bearer"


def recorded_waits(server: LocalServer, seed: int) -> tuple[list[float], int]:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    settings = fast_settings(server, connect_tries=5, backoff_base_s=0.5, backoff_cap_s=8.0)
    url = server.ws_url + "?model=ink-2&encoding=pcm_s16le&sample_rate=16000"

    async def main() -> int:
        headers = build_headers("", settings.cartesia_version)
        transport = await connect_with_retry(
            url, headers, settings, sleep=record, rng=random.Random(seed)
        )
        await transport.close()
        return transport.connect_tries

    return waits, anyio.run(main)


def test_429_backs_off_rate_limit_factor_times_longer(serve: Serve) -> None:
    limited, tries_429 = recorded_waits(serve(faults="upgrade_429=first:2"), seed=5)
    plain, tries_503 = recorded_waits(serve(faults="upgrade_503=first:2"), seed=5)
    assert tries_429 == tries_503 == 3
    assert len(limited) == len(plain) == 2
    assert limited == pytest.approx([4.0 * w for w in plain])
    assert 0.75 * 0.5 <= plain[0] <= 0.5 and 0.75 * 1.0 <= plain[1] <= 1.0


def test_the_concurrency_limit_is_a_rate_limit(serve: Serve, tone_wav: Path) -> None:
    server = serve(max_sessions=1)
    settings = fast_settings(server, connect_tries=2)
    url = server.ws_url + "?model=ink-2&encoding=pcm_s16le&sample_rate=16000"

    async def main() -> None:
        holder = await connect(url, build_headers("", settings.cartesia_version))
        try:
            with pytest.raises(RateLimitedError) as info:
                await transcribe_file(tone_wav, settings)
            assert info.value.http_status == 429 and info.value.retryable
        finally:
            await holder.close()
        await anyio.to_thread.run_sync(server.wait_idle)
        result = await transcribe_file(tone_wav, settings)  # the slot is free again
        assert result.transcript == EXPECTED

    anyio.run(main)
