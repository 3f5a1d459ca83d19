"""HTTP statuses on the upgrade: which end the session at once, which are worth another try."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from helpers import Serve, fast_settings
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.client.transport import map_handshake_error
from jobrunner.config import Settings
from jobrunner.errors import (
    AuthenticationError,
    RateLimitedError,
    ServerHandshakeError,
    SessionError,
    UpgradeRejectedError,
)

URL = "ws://127.0.0.1:9/stt/turns/websocket?api_key=sk-hidden&model=ink-2"


def run(path: Path, settings: Settings) -> SessionResult:
    async def main() -> SessionResult:
        return await transcribe_file(path, settings)

    return anyio.run(main)


def refused(status: int) -> InvalidStatus:
    return InvalidStatus(Response(status, "", Headers()))


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (400, UpgradeRejectedError, False),
        (404, UpgradeRejectedError, False),
        (405, UpgradeRejectedError, False),
        (422, UpgradeRejectedError, False),
        (401, AuthenticationError, False),
        (402, AuthenticationError, False),
        (403, AuthenticationError, False),
        (408, ServerHandshakeError, True),
        (425, ServerHandshakeError, True),
        (429, RateLimitedError, True),
        (500, ServerHandshakeError, True),
        (503, ServerHandshakeError, True),
    ],
)
def test_statuses_map_to_the_exception_tree(
    status: int, error: type[SessionError], retryable: bool
) -> None:
    exc = map_handshake_error(refused(status), URL, 10.0)
    assert isinstance(exc, SessionError) and type(exc) is error
    assert exc.retryable is retryable and exc.http_status == status
    assert f"HTTP {status}" in str(exc) and "api_key=***" in str(exc)
    assert "sk-hidden" not in str(exc)


def test_a_wrong_path_fails_at_once_naming_the_url(serve: Serve, tone_wav: Path) -> None:
    server = serve()
    settings = fast_settings(server, base_url=f"{server.url}/v9?api_key=sk-hidden")
    with pytest.raises(UpgradeRejectedError) as info:
        run(tone_wav, settings)
    exc = info.value
    assert not exc.retryable and exc.http_status == 404
    message = str(exc)
    assert f"{server.ws_url.removesuffix('/stt/turns/websocket')}/v9/stt/turns/websocket" in message
    assert "api_key=***" in message and "sk-hidden" not in message
    assert "base_url" in message
    assert exc.facts is not None and exc.facts.connect_tries == 1
    assert server.stats.upgrades == 1  # not retried
