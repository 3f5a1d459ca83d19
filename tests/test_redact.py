"""Credentials are masked in URLs, database URLs and records that third-party loggers write."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from jobrunner.redact import redact_db_url, redact_library_logs, redact_text, redact_url


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("> Authorization: Bearer sk_abc.123", "> Authorization: Bearer ***"),
        ("< authorization: bearer sk_abc", "< authorization: bearer ***"),
        ("< X-API-Key: sk_abc", "< X-API-Key: ***"),
        ("> GET /stt/turns/websocket?model=ink-2&api_key=sk_abc HTTP/1.1",
         "> GET /stt/turns/websocket?model=ink-2&api_key=*** HTTP/1.1"),
        ("?access_token=tok_1&model=ink-2", "?access_token=***&model=ink-2"),
        ("dsn ...?sslmode=require&password=pw1", "dsn ...?sslmode=require&password=***"),
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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://h/x?api_key=sk_1&model=ink-2", "ws://h/x?api_key=***&model=ink-2"),
        ("ws://h/x?a=1&access_token=t%2Fk&b=2", "ws://h/x?a=1&access_token=***&b=2"),
        ("ws://h/x?API_KEY=sk", "ws://h/x?API_KEY=***"),
        ("ws://h/x?api%5Fkey=sk#top", "ws://h/x?api%5Fkey=***#top"),
        ("ws://user:pw@h/x", "ws://user:***@h/x"),
        ("ws://user@h/x", "ws://user@h/x"),
        ("ws://h/x?keyterm=api_key", "ws://h/x?keyterm=api_key"),
        ("wss://h:8443/p/stt/turns/websocket?model=ink-2", "wss://h:8443/p/stt/turns/websocket?model=ink-2"),
    ],
)  # fmt: skip
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://jobrunner:s3cret@db:5432/jobs",
         "postgresql+psycopg://jobrunner:***@db:5432/jobs"),
        # an unencoded '@' or '/' in a password must not leak its tail
        ("postgresql://u:p@ss/w@db/jobs", "postgresql://u:***@db/jobs"),
        ("postgresql://u@db/jobs?sslmode=require&password=s3cret",
         "postgresql://u@db/jobs?sslmode=require&password=***"),
        ("sqlite:///jobrunner.db", "sqlite:///jobrunner.db"),
        ("sqlite:////var/lib/jobs.db", "sqlite:////var/lib/jobs.db"),
        ("not a url", "<unparseable URL>"),
    ],
)  # fmt: skip
def test_redact_db_url(url: str, expected: str) -> None:
    assert redact_db_url(url) == expected


def test_a_sqlalchemy_url_is_redacted_too() -> None:
    shown = redact_db_url(make_url("postgresql://u:s3cret@db/jobs?password=s3cret"))
    assert "s3cret" not in shown and shown.startswith("postgresql://u:***@db/jobs?")
