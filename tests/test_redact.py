"""Credentials are masked in records that third-party loggers write."""

from __future__ import annotations

import logging

import pytest

from jobrunner.redact import redact_library_logs, redact_text


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("> Authorization: Bearer sk_abc.123", "> Authorization: Bearer ***"),
        ("< authorization: bearer sk_abc", "< authorization: bearer ***"),
        ("< X-API-Key: sk_abc", "< X-API-Key: ***"),
        ("> GET /stt/turns/websocket?model=ink-2&api_key=sk_abc HTTP/1.1",
         "> GET /stt/turns/websocket?model=ink-2&api_key=*** HTTP/1.1"),
        ("?access_token=tok_1&model=ink-2", "?access_token=***&model=ink-2"),
        ("> cartesia-version: 2026-08-14", "> cartesia-version: 2026-08-14"),
    ],
)  # fmt: skip
def test_redact_text(line: str, shown: str) -> None:
    assert redact_text(line) == shown


def test_websockets_debug_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    redact_library_logs()
    redact_library_logs()  # idempotent: one filter
    client = logging.getLogger("websockets.client")
    assert len(client.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="websockets.client"):
        client.debug("> %s: %s", "Authorization", "Bearer sk_live_secret")
    assert "sk_live_secret" not in caplog.text
    assert "Authorization: Bearer ***" in caplog.text
