"""What the local server remembers: every upgrade it saw, and counters.

Tests compare the handshake our client sends with the official SDK's (path, query, headers
exactly as received); benchmarks read the counters. Records live in memory only and are never
logged: an ``Authorization`` header or ``api_key`` value is kept verbatim for the tests'
comparisons but ``repr`` masks it, so a failing assertion cannot print a key.

The server runs on its own event-loop thread while tests read from theirs, so the counters
sit behind a lock and readers get frozen snapshots.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Final

SECRET_HEADERS: Final = frozenset({"authorization", "x-api-key"})
SECRET_PARAMS: Final = frozenset({"api_key", "access_token"})
MAX_HANDSHAKES: Final = 10_000


@dataclass(frozen=True)
class Handshake:
    """One request and the server's answer: an upgrade (101 accepted, else the HTTP status)
    or a Batch ``POST`` (its HTTP status)."""

    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    status: int
    request_id: str | None = None
    auth: str | None = None  # which credential was used: bearer, x-api-key, api_key, access_token
    version: str | None = None
    method: str = "GET"

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def param(self, name: str) -> list[str]:
        """Every value of a query parameter, in order."""
        return [v for k, v in self.query if k == name]

    @property
    def query_keys(self) -> list[str]:
        return [k for k, _ in self.query]

    def __repr__(self) -> str:
        headers = [(k, "***" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers]
        query = [(k, "***" if k in SECRET_PARAMS else v) for k, v in self.query]
        return (
            f"Handshake(path={self.path!r}, status={self.status}, query={query!r}, "
            f"headers={headers!r}, request_id={self.request_id!r}, auth={self.auth!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class ServerStats:
    """A consistent snapshot of the server's counters."""

    upgrades: int = 0  # upgrade requests seen, any path or outcome
    sessions_total: int = 0  # upgrades accepted (101)
    sessions_open: int = 0
    max_sessions_open: int = 0
    rejected: dict[int, int] = field(default_factory=dict)  # HTTP status -> upgrades refused
    bad_requests: int = 0  # accepted, then 400 error event (parameters, messages)
    overload_trips: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    audio_seconds: float = 0.0  # decoded audio received, all sessions
    events_sent: int = 0
    close_codes: dict[int, int] = field(default_factory=dict)  # codes the server closed with
    batch_requests: int = 0  # POST /stt requests seen
    batch_statuses: dict[int, int] = field(default_factory=dict)  # HTTP status -> answers

    @property
    def faults_total(self) -> int:
        return sum(self.faults_injected.values())


class Recorder:
    """The mutable side: the server writes, anyone reads snapshots."""

    def __init__(self, max_handshakes: int = MAX_HANDSHAKES) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._handshakes: deque[Handshake] = deque(maxlen=max_handshakes)
        self._upgrades = 0
        self._sessions_total = 0
        self._open = 0
        self._max_open = 0
        self._rejected: dict[int, int] = {}
        self._bad_requests = 0
        self._overloads = 0
        self._faults: dict[str, int] = {}
        self._audio_s = 0.0
        self._events = 0
        self._closes: dict[int, int] = {}
        self._batch = 0
        self._batch_statuses: dict[int, int] = {}

    def upgrade(self, record: Handshake) -> int:
        """Record an upgrade decision; returns the connection's 1-based number."""
        with self._lock:
            self._upgrades += 1
            self._handshakes.append(record)
            if record.status == 101:
                self._sessions_total += 1
            else:
                self._rejected[record.status] = self._rejected.get(record.status, 0) + 1
            return self._upgrades

    def batch(self, record: Handshake) -> None:
        """Record a Batch request and the status it was answered with."""
        with self._lock:
            self._batch += 1
            self._handshakes.append(record)
            self._batch_statuses[record.status] = self._batch_statuses.get(record.status, 0) + 1

    def session_opened(self) -> None:
        with self._lock:
            self._open += 1
            self._max_open = max(self._max_open, self._open)

    def session_closed(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no session is open (handlers finished); False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._open == 0, timeout)

    def fault(self, label: str) -> None:
        with self._lock:
            self._faults[label] = self._faults.get(label, 0) + 1

    def bad_request(self) -> None:
        with self._lock:
            self._bad_requests += 1

    def overload(self) -> None:
        with self._lock:
            self._overloads += 1

    def audio(self, seconds: float) -> None:
        with self._lock:
            self._audio_s += seconds

    def events(self, count: int) -> None:
        with self._lock:
            self._events += count

    def closed_with(self, code: int) -> None:
        with self._lock:
            self._closes[code] = self._closes.get(code, 0) + 1

    def handshakes(self) -> list[Handshake]:
        with self._lock:
            return list(self._handshakes)

    def snapshot(self) -> ServerStats:
        with self._lock:
            return ServerStats(
                upgrades=self._upgrades,
                sessions_total=self._sessions_total,
                sessions_open=self._open,
                max_sessions_open=self._max_open,
                rejected=dict(self._rejected),
                bad_requests=self._bad_requests,
                overload_trips=self._overloads,
                faults_injected=dict(self._faults),
                audio_seconds=self._audio_s,
                events_sent=self._events,
                close_codes=dict(self._closes),
                batch_requests=self._batch,
                batch_statuses=dict(self._batch_statuses),
            )


__all__ = ["Handshake", "Recorder", "ServerStats"]
