"""The connection lifecycle: deadlines, the judgement of the server's close, the success rule.

Times are plain numbers (seconds on the caller's clock); no sockets, no sleeping.
"""

from __future__ import annotations

import math

import pytest

from jobrunner.errors import ConnectionLostError, DrainError, StallError
from jobrunner.protocol.lifecycle import (
    ABNORMAL_CLOSURE,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    Lifecycle,
    Phase,
    Progress,
)

PROGRESS = Progress(audio_s_sent=12.0, duration_s=30.0, turns=3, request_id="rid-1")


def lifecycle() -> Lifecycle:
    return Lifecycle(stall_timeout_s=2.0, drain_timeout_s=5.0)


def test_no_deadline_while_streaming_whatever_the_silence() -> None:
    life = lifecycle()
    life.received_event(100.0)
    assert life.phase is Phase.STREAMING
    assert life.deadline() == math.inf
    assert life.last_event_at is None  # events while streaming set no deadline


def test_after_our_close_the_earlier_of_stall_and_drain_applies() -> None:
    life = lifecycle()
    life.sent_close(10.0)
    assert life.phase is Phase.DRAINING
    assert life.deadline() == 12.0  # silent since our close: the stall timeout
    life.received_event(11.0)
    assert life.deadline() == 13.0  # every event restarts the stall timeout ...
    life.received_event(14.0)
    assert life.deadline() == 15.0  # ... but not past the drain timeout


def test_a_missed_deadline_is_a_stall_before_the_drain_budget_and_a_drain_error_after() -> None:
    life = lifecycle()
    life.sent_close(10.0)
    stall = life.timeout_error(12.0, PROGRESS)
    assert type(stall) is StallError and stall.retryable
    assert str(stall) == "server silent for 2 s after our close (12.0 s of audio sent)"
    assert stall.request_id == "rid-1"
    drain = life.timeout_error(15.0, PROGRESS)
    assert type(drain) is DrainError and drain.retryable
    assert str(drain) == (
        "drain not finished 5 s after our close (12.0 s of audio sent, 3 turns so far)"
    )


def test_no_timeout_can_be_judged_before_our_close() -> None:
    with pytest.raises(RuntimeError):
        lifecycle().timeout_error(1.0, PROGRESS)


def test_normal_close_after_ours_is_a_completed_drain_and_a_success() -> None:
    life = lifecycle()
    life.sent_close(10.0)
    life.server_closed(NORMAL_CLOSURE, "", 10.75)
    assert life.phase is Phase.CLOSED and life.deadline() == math.inf
    assert life.close_error(PROGRESS) is None
    assert life.drained and life.drain_s == 0.75
    assert life.succeeded(None)
    assert not life.succeeded(ValueError("on_event raised"))  # anything failed: no success


def test_normal_close_before_ours_is_a_drain_error() -> None:
    life = lifecycle()
    life.server_closed(NORMAL_CLOSURE, "bye", 8.0)
    error = life.close_error(PROGRESS)
    assert type(error) is DrainError and error.retryable
    assert error.close_code == NORMAL_CLOSURE and error.request_id == "rid-1"
    assert str(error) == (
        "server closed the session (close code 1000 (bye)) before our close; "
        "12.0 of 30.0 s of audio sent"
    )
    assert not life.drained and not life.succeeded(None) and life.drain_s is None


@pytest.mark.parametrize(
    ("close_sent", "code", "when"),
    [
        (True, ABNORMAL_CLOSURE, "after"),
        (False, ABNORMAL_CLOSURE, "before"),
        (True, INTERNAL_ERROR, "after"),
        (True, 1001, "after"),
    ],
)
def test_any_other_close_is_a_lost_connection(close_sent: bool, code: int, when: str) -> None:
    life = lifecycle()
    if close_sent:
        life.sent_close(10.0)
    life.server_closed(code, "", 11.0)
    error = life.close_error(PROGRESS)
    assert type(error) is ConnectionLostError and error.retryable
    assert error.close_code == code
    assert str(error) == (
        f"connection lost: close code {code}, {when} our close; 12.0 of 30.0 s of audio sent"
    )
    assert not life.succeeded(None)


def test_the_close_cannot_be_judged_while_open() -> None:
    with pytest.raises(RuntimeError):
        lifecycle().close_error(PROGRESS)
