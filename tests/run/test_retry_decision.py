"""The pure retry decision: action by error class, budget, backoff growth, cap, 429 factor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobrunner.errors import (
    AudioError,
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectionLostError,
    DrainError,
    JobrunnerError,
    RateLimitedError,
    RequestRejectedError,
    ServerErrorEvent,
    SessionCancelled,
    StallError,
    UpgradeRejectedError,
)
from jobrunner.retry import Action, Decision, RetryPolicy, backoff_s, decide

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_s=2.0, cap_s=300.0, rate_limit_factor=4.0)


def run_decide(
    error: BaseException,
    *,
    attempt: int = 1,
    left: int = 3,
    jitter: float = 1.0,
    connected: bool = True,
) -> Decision:
    return decide(
        POLICY,
        attempt=attempt,
        attempts_left=left,
        error=error,
        connected=connected,
        now=NOW,
        jitter=jitter,
    )


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (ConnectionLostError("1006"), Action.RETRY),
        (ConnectError("refused"), Action.RETRY),
        (StallError("quiet"), Action.RETRY),
        (DrainError("short"), Action.RETRY),
        (ServerErrorEvent("500", http_status=500), Action.RETRY),
        (RateLimitedError("429", http_status=429), Action.RETRY),
        (RequestRejectedError("bad encoding", http_status=400), Action.FAIL),
        (AudioError("/a.wav", "truncated"), Action.INVALID),
        (AuthenticationError("401", http_status=401), Action.STOP),
        (ConfigError("bad url"), Action.STOP),
        (UpgradeRejectedError("HTTP 400", http_status=400), Action.FAIL),
        (SessionCancelled("shutdown"), Action.RELEASE),
        (RuntimeError("a bug"), Action.RETRY),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_the_action_follows_the_error_class(error: BaseException, action: Action) -> None:
    decision = run_decide(error)
    assert decision.action is action
    assert (decision.run_after is not None) is (action is Action.RETRY)


def test_a_run_stops_with_the_error_that_stops_it() -> None:
    refused = AuthenticationError("401: invalid key", http_status=401)
    decision = run_decide(refused)
    assert decision.action is Action.STOP and decision.stop_error is refused
    assert run_decide(ConnectionLostError("1006")).stop_error is None


def test_a_connect_error_before_any_handshake_stops_the_run_as_a_configuration_error() -> None:
    error = ConnectError("cannot connect to ws://127.0.0.1:9/stt: connection refused")
    decision = run_decide(error, connected=False, left=4)
    assert decision.action is Action.STOP and decision.run_after is None
    assert isinstance(decision.stop_error, ConfigError)
    assert decision.stop_error.exit_code == 2
    assert str(decision.stop_error).startswith(str(error))
    assert "check --base-url" in str(decision.stop_error)
    # once the service has answered in this run, it is this session's bad luck: retried
    assert run_decide(error, connected=True).action is Action.RETRY
    # and other errors keep their class's action before the first handshake
    assert run_decide(ConnectionLostError("1006"), connected=False).action is Action.RETRY


def test_no_endpoint_at_the_url_stops_the_run_as_a_configuration_error() -> None:
    error = UpgradeRejectedError("HTTP 404 on the upgrade to ws://h/stt/turns", http_status=404)
    decision = run_decide(error)  # even after other sessions connected: a 404 is for every file
    assert decision.action is Action.STOP
    assert isinstance(decision.stop_error, ConfigError) and decision.stop_error.exit_code == 2
    assert str(decision.stop_error).startswith(str(error))


def test_a_retry_runs_after_the_backoff_and_keeps_the_reason() -> None:
    decision = run_decide(ConnectionLostError("connection lost: close code 1006"), attempt=1)
    assert decision.run_after == NOW + timedelta(seconds=2.0)
    assert decision.kind == "connection_lost"
    assert decision.reason == "connection lost: close code 1006"


def test_a_retry_waits_at_least_what_retry_after_asked_for() -> None:
    slow = RateLimitedError("HTTP 429", http_status=429, retry_after_s=90.0)
    assert run_decide(slow, attempt=1).run_after == NOW + timedelta(seconds=90.0)
    soon = ServerErrorEvent("HTTP 503", http_status=503, retry_after_s=0.5)
    assert run_decide(soon, attempt=1).run_after == NOW + timedelta(seconds=2.0)  # the backoff


def test_the_budget_used_up_fails_the_job_with_the_last_reason() -> None:
    decision = run_decide(StallError("server silent"), attempt=5, left=0)
    assert decision.action is Action.FAIL and decision.run_after is None
    assert decision.kind == "stall"
    assert decision.reason == "server silent (gave up after 5 attempts)"


def test_an_unexpected_error_is_retried_as_internal() -> None:
    decision = run_decide(KeyError("x"))
    assert decision.kind == "internal" and "KeyError" in decision.reason


def test_backoff_doubles_then_stops_at_the_cap() -> None:
    error = ConnectionLostError("x")
    delays = [backoff_s(POLICY, n, error, jitter=1.0) for n in range(1, 12)]
    assert delays[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delays[-1] == 300.0 and max(delays) == 300.0
    assert backoff_s(POLICY, 10_000, error, jitter=1.0) == 300.0  # no overflow


def test_a_429_backs_off_rate_limit_factor_times_longer() -> None:
    plain = backoff_s(POLICY, 3, ServerErrorEvent("500"), jitter=0.5)
    limited = backoff_s(POLICY, 3, RateLimitedError("429"), jitter=0.5)
    assert limited == pytest.approx(4.0 * plain)


@given(
    failures=st.integers(min_value=1, max_value=200),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_jitter_stays_within_three_quarters_and_the_full_delay(
    failures: int, jitter: float
) -> None:
    error = JobrunnerError("x")
    full = backoff_s(POLICY, failures, error, jitter=1.0)
    assert 0.75 * full - 1e-9 <= backoff_s(POLICY, failures, error, jitter=jitter) <= full


def test_time_and_randomness_come_only_from_now_and_jitter() -> None:
    error = DrainError("short")
    first = run_decide(error, attempt=2, jitter=0.0)
    assert first.delay_s == 0.75 * 4.0  # base * 2^(2-1), jitter 0: three quarters of it
    assert first.run_after == NOW + timedelta(seconds=3.0)
    later = decide(
        POLICY,
        attempt=2,
        attempts_left=3,
        error=error,
        connected=True,
        now=NOW + timedelta(hours=1),
        jitter=0.0,
    )
    assert later.run_after == NOW + timedelta(hours=1, seconds=3.0)
