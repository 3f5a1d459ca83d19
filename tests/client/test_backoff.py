"""Connect-phase retries on the connect scale of retry.backoff_s, the waits recorded not slept.

The formula itself is tested with the retry decision (tests/run/test_retry_decision.py)."""

from __future__ import annotations

import random
import socket

import anyio
import pytest

from jobrunner.client.transport import connect_with_retry
from jobrunner.config import Settings
from jobrunner.errors import ConnectError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connections_are_retried_then_reported_with_the_tries() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    settings = Settings(connect_tries=4, backoff_base_s=0.2, backoff_cap_s=0.5)
    url = f"ws://127.0.0.1:{closed_port()}/stt/turns/websocket"

    async def main() -> None:
        with pytest.raises(ConnectError) as info:
            await connect_with_retry(url, {}, settings, sleep=record, rng=random.Random(3))
        assert info.value.retryable
        assert info.value.facts is not None and info.value.facts.connect_tries == 4
        assert "127.0.0.1" in str(info.value)

    anyio.run(main)
    assert len(waits) == 3  # between four tries
    for n, wait in enumerate(waits, start=1):
        ceiling = min(0.2 * 2 ** (n - 1), 0.5)
        assert 0.75 * ceiling <= wait <= ceiling


def test_a_peer_that_never_answers_the_upgrade_times_out_as_a_connect_error() -> None:
    with socket.socket() as hole:  # listens, never accepts: the kernel completes TCP, no HTTP
        hole.bind(("127.0.0.1", 0))
        hole.listen()
        url = f"ws://127.0.0.1:{hole.getsockname()[1]}/stt/turns/websocket"
        settings = Settings(connect_tries=1, open_timeout_s=0.3)

        async def main() -> None:
            with pytest.raises(ConnectError, match=r"within 0\.3 s") as info:
                await connect_with_retry(url, {}, settings)
            assert info.value.retryable

        anyio.run(main)


def test_credentials_in_the_url_never_reach_the_message() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/stt/turns/websocket?api_key=sk-very-secret&model=ink-2"

    async def main() -> None:
        with pytest.raises(ConnectError) as info:
            await connect_with_retry(url, {}, Settings(connect_tries=1))
        assert "sk-very-secret" not in str(info.value)
        assert "api_key=***" in str(info.value)

    anyio.run(main)
