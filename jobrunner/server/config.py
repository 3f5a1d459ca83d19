"""How ``jobrunner serve`` / :class:`~jobrunner.server.local.LocalServer` behave: one frozen,
validated :class:`ServerConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jobrunner.config import Secret
from jobrunner.errors import UsageError
from jobrunner.net import is_loopback
from jobrunner.protocol.events import AUTO_PATH
from jobrunner.server.faults import FaultSpec

DEFAULT_PORT: Final = 8765

#: the largest Batch upload (bytes) by default. The service documents no limit; ours holds a
#: WAV of about 4.5 hours at 16 kHz, 16-bit mono, and a larger file gets a 413 naming it
DEFAULT_MAX_UPLOAD_BYTES: Final = 500 * 1000 * 1000


@dataclass(frozen=True)
class ServerConfig:
    """How ``jobrunner serve`` / :class:`LocalServer` behave. Frozen; validated on creation."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: Secret = field(default_factory=lambda: Secret(""))
    engine: str = "tones"  # --engine: a name in recognizer.RECOGNIZERS
    engine_options: Mapping[str, Any] = field(default_factory=dict)  # its keyword options
    faults: FaultSpec = field(default_factory=FaultSpec)
    seed: int = 0
    max_sessions: int | None = None  # websocket sessions and Batch requests together
    max_rate: float = 1.25  # x realtime; 0 disables the overload check
    burst_s: float = 1.5
    public: bool = False
    path_prefix: str = ""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    def __post_init__(self) -> None:
        if not is_loopback(self.host):
            if not self.public:
                raise UsageError(
                    f"refusing to bind to {self.host}: the server binds to loopback unless "
                    "started with --public (and --api-key)"
                )
            if not self.api_key:
                raise UsageError(
                    "--public needs --api-key or --api-key-file: a reachable server must check keys"
                )
        if self.max_sessions is not None and self.max_sessions < 1:
            raise UsageError(f"--max-sessions must be >= 1, got {self.max_sessions}")
        if self.max_rate < 0 or self.burst_s < 0:
            raise UsageError("--max-rate and --burst-s must not be negative")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0-65535, got {self.port}")
        if self.max_upload_bytes < 1:
            raise UsageError(f"the upload limit must be positive, got {self.max_upload_bytes}")

    @property
    def path(self) -> str:
        """The Auto endpoint's path."""
        return self.path_prefix.rstrip("/") + AUTO_PATH


__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_PORT", "ServerConfig"]
