"""Credential masking, in one place: log text, websocket URLs and database URLs.

Every masked value becomes ``***``; everything else is kept byte for byte, so a shown URL or log
line still says what was sent.

* :func:`redact_url`: a URL for an error or a log (the client's upgrade URL, a database URL):
  the password in ``user:password@`` and the values of :data:`SECRET_QUERY_KEYS`.
* :func:`redact_db_url`: the same for a database URL, from a string or a SQLAlchemy ``URL``.
* :func:`redact_text`: header values and query parameters inside free text (a log line).
* :func:`redact_library_logs`: our own code never puts the key in a log call as a plain string
  (it is a ``Secret``), but ``websockets`` logs every handshake header at DEBUG level
  (``> Authorization: Bearer ...``) and the request line with its query (``?api_key=``). This
  attaches a filter to those loggers, where the records are made, so the key is masked whatever
  handlers the application (our CLI or a library user's) configures.
"""

from __future__ import annotations

import logging
import re
from typing import Final
from urllib.parse import unquote

MASK: Final = "***"

#: query keys whose values are credentials: the service's browser auth (``api_key``,
#: ``access_token``) and libpq's ``password``
SECRET_QUERY_KEYS: Final = frozenset({"api_key", "access_token", "password"})

#: (pattern, replacement): header values and query parameters that carry credentials
_PATTERNS: Final = (
    (re.compile(r"(?i)\b(authorization\s*:\s*(?:bearer|basic)\s+)\S+"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(x-api-key\s*:\s*)\S+"), rf"\1{MASK}"),
    (
        re.compile(rf"(?i)([?&](?:{'|'.join(sorted(SECRET_QUERY_KEYS))})=)[^&\s]+"),
        rf"\1{MASK}",
    ),
)

#: loggers of third-party code that may log handshake headers or URLs; the last is the one
#: websockets writes to for ``jobrunner serve`` (``server.app.WEBSOCKETS_LOGGER``)
LIBRARY_LOGGERS: Final = ("websockets.client", "websockets.server", "jobrunner.server.websockets")


def redact_text(text: str) -> str:
    """``text`` with credential headers and query values masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """``url`` safe for logs and errors: its password and credential query values masked.

    The password runs from the first ``:`` of the user info to the last ``@``, as lenient URL
    parsers read it, so an unencoded ``@``, ``/`` or ``?`` in a password is masked too (a stray
    ``@`` later in the URL masks more than needed, never less).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        if colon and not any(c in user for c in "/?#"):
            rest = f"{user}:{MASK}{rest[at:]}"
    before, question, after = rest.partition("?")
    if question:
        query, hash_, fragment = after.partition("#")
        fields = []
        for item in query.split("&"):
            key, equals, _value = item.partition("=")
            if equals and unquote(key.replace("+", " ")).lower() in SECRET_QUERY_KEYS:
                item = f"{key}={MASK}"
            fields.append(item)
        rest = f"{before}?{'&'.join(fields)}{hash_}{fragment}"
    return f"{scheme}{sep}{rest}"


def redact_db_url(url: object) -> str:
    """A database URL as it may be shown: a string or a SQLAlchemy ``URL`` (whose ``str()``
    already hides the password, but not a ``password=`` query parameter)."""
    text = str(url)
    if "://" not in text:
        return "<unparseable URL>"
    return redact_url(text)


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
