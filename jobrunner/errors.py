"""The one exception tree of jobrunner.

Every failure that crosses a module boundary is one of these. Third-party exceptions
(websockets, soundfile, SQLAlchemy) are translated once, where they are caught, with
``raise ... from exc``; nothing above that boundary sees them. Whether a failure is worth
another attempt is decided by class (``retryable``), never by parsing messages::

    JobrunnerError
    ├── UsageError                  bad flags, paths or config (exit 2)
    ├── ConfigError                 a config file or profile that cannot be used (exit 2)
    ├── AudioError                  the file's content can never be streamed -> job ``invalid``
    ├── SourceError                 the file as a worker finds it at run time (path, reason)
    │   ├── FileUnavailableError    missing or unreadable here and now (moved, share      retryable
    │   │                           unmounted, a machine without the mount): no session opened
    │   └── FileChangedError        not the file that was enqueued (size, mtime, frames)  permanent
    ├── StoreError
    │   ├── StaleStateError         compare-and-swap lost: the row was not in the expected state
    │   │   └── LeaseLostError      our lease was reaped or taken; write nothing
    │   ├── ResultNotStoredError    an attempt's final write failed (not a lost lease)   retryable
    │   └── DatabaseUnavailableError / MigrationError
    └── SessionError                a realtime session failed (carries the attempt's facts)
        ├── ConnectError            refused, DNS, TLS, open timeout                      retryable
        ├── HandshakeError          HTTP status on the upgrade
        │   ├── AuthenticationError 401/402/403: the key or the plan, not the file      fatal
        │   ├── RateLimitedError    429: back off harder, lower concurrency             retryable
        │   ├── UpgradeRejectedError other 4xx (404 wrong URL, 400, 405 ...)            permanent
        │   └── ServerHandshakeError 5xx, 408, 425 (and other unexpected statuses)      retryable
        ├── ServerErrorEvent        an ``error`` event; retryable when status_code >= 500
        │   └── RequestRejectedError 4xx error event: bad model/encoding/params         permanent
        ├── ConnectionLostError     abnormal close mid-session (1006, 1011, 1001 ...)   retryable
        ├── StallError              no event and no close for too long                  retryable
        ├── DrainError              the server closed before the drain completed        retryable
        ├── ProtocolViolationError  the server broke the event contract                 retryable
        ├── SessionStalledError     outlived its watchdog (a read that hangs)            retryable
        └── SessionCancelled        we stopped it (job cancelled, shutdown): a give-back, not
                                    a failure; never retried by class, the worker releases
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Self


class JobrunnerError(Exception):
    """Base of every jobrunner error. ``retryable`` says whether another attempt may succeed."""

    retryable: bool = False
    #: short machine-readable kind stored in ``jobs.error_kind`` / ``attempts.error_kind``
    kind: str = "error"
    #: process exit code when this error ends a CLI command
    exit_code: int = 1


class UsageError(JobrunnerError):
    kind = "usage"
    exit_code = 2


class ConfigError(JobrunnerError):
    kind = "config"
    exit_code = 2


class AudioError(JobrunnerError):
    """The audio file's content cannot be streamed (it can never decode); the job becomes
    ``invalid``. A file that is missing or unreadable at run time is a
    :class:`FileUnavailableError` instead: that can change."""

    kind = "invalid_audio"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class SourceError(JobrunnerError):
    """The file, as a worker finds it before (or while) streaming it, is not what the queue
    knows: the attempt fails without a session, the job is not ``invalid``."""

    kind = "source"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FileUnavailableError(SourceError):
    """Missing or unreadable here and now: moved, a share unmounted, a worker on a machine
    without the mount. A failed attempt like any transient one (backoff, budget), because the
    file may well be back; a worker that sees most of its files so stops (``run.sight``)."""

    kind = "file_unavailable"
    retryable = True


class FileChangedError(SourceError):
    """Not the file that was enqueued (size, mtime, frames or rate differ): a recorder that
    rotates segments under one name. Transcribing it would store new audio under the old
    hash, so the job fails for good; enqueueing the file again makes a new job of it."""

    kind = "file_changed"


class StoreError(JobrunnerError):
    kind = "store"


class StaleStateError(StoreError):
    """A compare-and-swap UPDATE matched no row: another actor changed the job first."""

    kind = "stale_state"


class LeaseLostError(StaleStateError):
    """Our lease on the job was reaped or taken over; the caller must write nothing."""

    kind = "lease_lost"


class ResultNotStoredError(StoreError):
    """The final write of an attempt failed for a reason other than a lost lease (a value the
    database refused, a constraint, the database gone for a moment): the attempt is recorded
    as failed with this reason (kind ``store``), never taken for a lost lease."""

    kind = "store"
    retryable = True


class DatabaseUnavailableError(StoreError):
    kind = "database_unavailable"
    exit_code = 2


class MigrationError(StoreError):
    kind = "migration"
    exit_code = 2


@dataclass(frozen=True)
class SessionFacts:
    """What a failed session got done, so the attempt row can say so (the client fills it).

    Partial turns of a failed session are never kept (a retry streams the file again), only
    counted in ``turns_discarded``.
    """

    request_id: str | None = None
    connect_tries: int = 0
    connect_s: float | None = None
    audio_s_sent: float = 0.0
    close_sent: bool = False
    close_code: int | None = None  # how the server ended it; None when we closed first
    drained: bool = False
    turns_discarded: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None


class SessionError(JobrunnerError):
    """A realtime session (or a Batch request) failed. Fields describe what the wire said, for
    the attempt row; ``facts`` what the session got done before it failed (the client attaches
    them); ``retry_after_s`` what the service's ``Retry-After`` asked for, if it said."""

    kind = "session"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        close_code: int | None = None,
        request_id: str | None = None,
        facts: SessionFacts | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.close_code = close_code
        self.request_id = request_id
        self.facts = facts
        self.retry_after_s = retry_after_s

    def with_facts(self, facts: SessionFacts, *, request_id: str | None = None) -> Self:
        """A new error of the same class carrying ``facts`` (and ``request_id`` when this one
        has none): a raised exception is never changed, the caller raises the copy ``from``
        it."""
        return type(self)(
            self.message,
            http_status=self.http_status,
            close_code=self.close_code,
            request_id=self.request_id or request_id,
            facts=facts,
            retry_after_s=self.retry_after_s,
        )


class ConnectError(SessionError):
    kind = "connect"


class HandshakeError(SessionError):
    kind = "handshake"


class AuthenticationError(HandshakeError):
    """401/402/403 on the upgrade: every job would fail the same way, so the run stops."""

    kind = "auth"
    retryable = False
    exit_code = 3


class RateLimitedError(HandshakeError):
    kind = "rate_limited"


class UpgradeRejectedError(HandshakeError):
    """4xx on the upgrade other than auth, 408, 425 and 429 (404: no endpoint at that URL, 400,
    405, 422 ...): the URL or the request is wrong, so every try would get the same answer."""

    kind = "upgrade_rejected"
    retryable = False


class ServerHandshakeError(HandshakeError):
    kind = "server_handshake"


class ServerErrorEvent(SessionError):
    """The server sent an ``error`` event. 5xx is worth a retry; 4xx is not (subclass)."""

    kind = "server_error"


class RequestRejectedError(ServerErrorEvent):
    kind = "rejected"
    retryable = False


class ConnectionLostError(SessionError):
    kind = "connection_lost"


class StallError(SessionError):
    kind = "stall"


class DrainError(SessionError):
    kind = "drain"


class ProtocolViolationError(SessionError):
    kind = "protocol"


class SessionStalledError(SessionError):
    """The session outlived its watchdog deadline (``run.watchdog``): a file read that hangs
    (a hard-mounted share gone away) blocks a worker thread that nothing can interrupt. The
    session is abandoned and the attempt recorded as failed; its lease is not renewed past
    the deadline, so the job is reaped even when nothing could be recorded."""

    kind = "stalled"


class SessionCancelled(SessionError):
    """We stopped the session (the job was cancelled, or the process is shutting down).

    Not a failure of the attempt: the worker gives the job back (or marks it cancelled)
    without spending an attempt, so ``retryable`` is False and no retry path may pick it up.
    """

    kind = "cancelled"
    retryable = False
    exit_code = 130
