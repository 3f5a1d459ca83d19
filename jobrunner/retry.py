"""What becomes of a job after a failed attempt, and when it may run again: a pure function.

:func:`decide` looks only at its arguments (no clock, no randomness, no I/O), so every branch
is a unit test. The worker supplies ``now`` from the store's clock and ``jitter`` from its
random source, then carries the :class:`Decision` out with one store verb.

* 401/402/403 (:class:`AuthenticationError`) or :class:`ConfigError` -> ``STOP``: the job is
  released and the run stops claiming; it is the key, the plan or the settings, not the file.
* a :class:`ConnectError` before any handshake of the run succeeded (``connected`` False) ->
  ``STOP`` too, with a :class:`ConfigError` that says so: nothing ever answered, so it is a
  wrong ``--base-url`` or no network, and retrying would only use the queue's budgets up.
* 404/405 on the upgrade (:class:`UpgradeRejectedError`: no endpoint at that URL) -> ``STOP``
  with a :class:`ConfigError`: every file would get the same answer. Other rejected upgrades
  (400, 422: this job's parameters) -> ``FAIL``.
* :class:`SessionCancelled` (shutdown) -> ``RELEASE``: given back, no attempt spent.
* :class:`AudioError` -> ``INVALID``: ``fail(invalid=True)`` with the reason. Only content
  that can never decode is that: a file missing or unreadable at run time
  (:class:`FileUnavailableError`: moved, a share unmounted) is retryable, and a file changed
  since enqueue (:class:`FileChangedError`) fails for good, like any permanent error.
* a result the store refused (:class:`ResultNotStoredError`) and a session past its watchdog
  (:class:`SessionStalledError`) are retryable like any transient failure.
* a retryable error with budget left -> ``RETRY``: ``retry_later(run_after)``, never sooner
  than the service's ``Retry-After`` (``SessionError.retry_after_s``) when it sent one.
* a retryable error with the budget used up -> ``FAIL`` with the last reason.
* a permanent error (a 4xx error event) -> ``FAIL`` at once.
* anything unexpected (a bug) -> like a retryable error, kind ``internal``: one bad job must
  not end a night's run, and the budget bounds the cost.

The one backoff formula, :func:`backoff_s`, before try n+1 (``n`` = failures so far)::

    min(base * 2^(n-1), cap) * (0.75 + 0.25 * jitter)      jitter in [0, 1)

the official SDK's reconnect shape. The queue uses it between attempts on a scale of seconds to
minutes (``requeue_base_s``, ``requeue_cap_s``), the client between connect tries on a scale of
a second (``backoff_base_s``, ``backoff_cap_s``). After a 429 the delay is
``rate_limit_factor`` times longer (cap included): the plan's concurrency is full, hammering it
again soon only earns more 429s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobrunner.errors import (
    AudioError,
    AuthenticationError,
    ConfigError,
    ConnectError,
    JobrunnerError,
    RateLimitedError,
    SessionCancelled,
    SessionError,
    UpgradeRejectedError,
)


class Action(enum.StrEnum):
    RETRY = "retry"
    FAIL = "fail"
    INVALID = "invalid"
    RELEASE = "release"
    STOP = "stop"


@dataclass(frozen=True)
class RetryPolicy:
    """The backoff's scale: ``requeue_base_s``, ``requeue_cap_s`` and ``rate_limit_factor`` for
    the queue; ``backoff_base_s``, ``backoff_cap_s`` and the same factor for connect tries."""

    base_s: float = 2.0
    cap_s: float = 300.0
    rate_limit_factor: float = 4.0


@dataclass(frozen=True)
class Decision:
    action: Action
    kind: str
    """Short machine-readable error kind for ``jobs.error_kind``/``attempts.error_kind``."""
    reason: str
    """One line for ``jobs.last_error``; says when the budget ran out."""
    run_after: datetime | None = None
    delay_s: float = 0.0
    stop_error: JobrunnerError | None = None
    """With ``STOP``: the error the run ends with (its exit code is the run's)."""


def error_kind(error: BaseException) -> str:
    return error.kind if isinstance(error, JobrunnerError) else "internal"


def describe(error: BaseException) -> str:
    """One line for a human and for ``last_error``; never a traceback."""
    if isinstance(error, JobrunnerError):
        return str(error) or type(error).__name__
    return f"internal error: {type(error).__name__}: {error}"


def classify(error: BaseException, *, connected: bool) -> Action:
    """The action by error class and whether any handshake of the run succeeded (before the
    attempt budget is considered)."""
    if isinstance(error, ConnectError) and not connected:
        return Action.STOP
    if _wrong_endpoint(error):
        return Action.STOP
    if isinstance(error, AuthenticationError | ConfigError):
        return Action.STOP
    if isinstance(error, SessionCancelled):
        return Action.RELEASE
    if isinstance(error, AudioError):
        return Action.INVALID
    if isinstance(error, JobrunnerError):
        return Action.RETRY if error.retryable else Action.FAIL
    return Action.RETRY


def backoff_s(policy: RetryPolicy, failures: int, error: BaseException, jitter: float) -> float:
    """Seconds to wait after ``failures`` failed attempts (or connect tries), the last one
    being ``error``; ``jitter`` in [0, 1) comes from the caller's random source."""
    exponent = max(0, failures - 1)
    ceiling = policy.cap_s if exponent > 60 else min(policy.base_s * 2**exponent, policy.cap_s)
    delay = ceiling * (0.75 + 0.25 * min(max(jitter, 0.0), 1.0))
    if isinstance(error, RateLimitedError):
        delay *= policy.rate_limit_factor
    return delay


def _wrong_endpoint(error: BaseException) -> bool:
    """404/405 on the upgrade: there is no endpoint at that URL, for this file or any other."""
    return isinstance(error, UpgradeRejectedError) and error.http_status in (404, 405)


def _stop_error(error: BaseException) -> JobrunnerError:
    """The error a run stops with when ``error`` ends it (:func:`classify` said ``STOP``)."""
    if isinstance(error, ConnectError):
        return ConfigError(
            f"{error}; stopping before the queue is used up (check --base-url and the "
            "network; the jobs stay queued)"
        )
    if _wrong_endpoint(error):
        return ConfigError(
            f"{error}; stopping: every file would get the same answer (the jobs stay queued)"
        )
    if isinstance(error, JobrunnerError):
        return error
    raise TypeError(f"{type(error).__name__} does not stop a run")


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    attempts_left: int,
    error: BaseException,
    connected: bool,
    now: datetime,
    jitter: float,
) -> Decision:
    """The fate of a job whose attempt number ``attempt`` (within its current budget) failed
    with ``error``, with ``attempts_left`` attempts still allowed after it; ``connected``: a
    handshake succeeded earlier in this run (the service answers, so it is not a wrong URL)."""
    action = classify(error, connected=connected)
    kind, reason = error_kind(error), describe(error)
    if action is Action.STOP:
        return Decision(action, kind, reason, stop_error=_stop_error(error))
    if action is not Action.RETRY:
        return Decision(action, kind, reason)
    if attempts_left <= 0:
        tries = "attempt" if attempt == 1 else "attempts"
        return Decision(Action.FAIL, kind, f"{reason} (gave up after {attempt} {tries})")
    delay = backoff_s(policy, attempt, error, jitter)
    if isinstance(error, SessionError) and error.retry_after_s is not None:
        delay = max(delay, error.retry_after_s)  # the service said when
    return Decision(Action.RETRY, kind, reason, now + timedelta(seconds=delay), delay)


__all__ = [
    "Action",
    "Decision",
    "RetryPolicy",
    "backoff_s",
    "classify",
    "decide",
    "describe",
    "error_kind",
]
