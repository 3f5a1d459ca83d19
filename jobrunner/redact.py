"""Keep credentials out of log records that other libraries write.

Our own code never puts the key in a log call as a plain string (it is a ``Secret``),
but ``websockets`` logs every handshake header at DEBUG level (``> Authorization: Bearer ...``)
and the request line with its query (``?api_key=``). :func:`redact_library_logs` attaches a
filter to those loggers, where the records are made, so the key is masked whatever handlers
the application (our CLI or a library user's) configures.
"""

from __future__ import annotations

import logging
import re
from typing import Final

#: (pattern, replacement): header values and query parameters that carry credentials
_PATTERNS: Final = (
    (re.compile(r"(?i)\b(authorization\s*:\s*(?:bearer|basic)\s+)\S+"), r"\1***"),
    (re.compile(r"(?i)\b(x-api-key\s*:\s*)\S+"), r"\1***"),
    (re.compile(r"(?i)([?&](?:api_key|access_token)=)[^&\s]+"), r"\1***"),
)

#: loggers of third-party code that may log handshake headers or URLs; the last is the one
#: websockets writes to for ``jobrunner serve`` (``server.app.WEBSOCKETS_LOGGER``)
LIBRARY_LOGGERS: Final = ("websockets.client", "websockets.server", "jobrunner.server.websockets")


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactCredentials(logging.Filter):
    """Rewrites a record's message with credentials masked (never drops the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_FILTER: Final = RedactCredentials()


def redact_library_logs() -> None:
    """Attach the filter to :data:`LIBRARY_LOGGERS` (idempotent)."""
    for name in LIBRARY_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
