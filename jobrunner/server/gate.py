"""What the local server decides before any endpoint runs: who is asking, and refusals.

Shared by the websocket upgrades and the Batch ``POST``: the credential (the first present
among ``Authorization: Bearer``, ``X-API-Key``, ``?api_key=``, ``?access_token=``, the
service's order), the version, the :class:`~jobrunner.server.recorder.Handshake` record, the
request log line, and the JSON error body the service answers HTTP errors with
(``error_code``, ``title``, ``message``, ``request_id``).

Every request is logged at DEBUG (request line and headers, as websockets used to) on
:data:`REQUEST_LOGGER`, which :mod:`jobrunner.redact` filters: credentials show as ``***``.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from jobrunner.redact import redact_library_logs
from jobrunner.server.recorder import Handshake
from jobrunner.server.session import status_phrase

#: the logger of every request line and its headers (``jobrunner -vv serve``); credentials in
#: it are masked by :mod:`jobrunner.redact` (the name predates aiohttp: websockets logged there)
REQUEST_LOGGER: Final = "jobrunner.server.websockets"
redact_library_logs()

_log = logging.getLogger(REQUEST_LOGGER)


@dataclass(frozen=True)
class Asked:
    """One HTTP request as the gate reads it."""

    method: str
    path: str  # raw (percent-encoded), without the query
    query: tuple[tuple[str, str], ...]  # decoded with form rules
    headers: tuple[tuple[str, str], ...]
    auth: str | None  # bearer, x-api-key, api_key, access_token
    credential: str | None
    version: str | None

    def record(self, status: int, request_id: str | None = None) -> Handshake:
        return Handshake(
            path=self.path,
            query=self.query,
            headers=self.headers,
            status=status,
            request_id=request_id,
            auth=self.auth,
            version=self.version,
            method=self.method,
        )


def read_request(request: web.BaseRequest) -> Asked:
    split = urlsplit(request.raw_path)
    query = tuple(parse_qsl(split.query, keep_blank_values=True))
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
    )
    if _log.isEnabledFor(logging.DEBUG):
        lines = [f"< {request.method} {request.raw_path} HTTP/{request.version.major}."
                 f"{request.version.minor}"] + [f"< {k}: {v}" for k, v in headers]  # fmt: skip
        _log.debug("%s", "\n".join(lines))
    auth, credential = _credential(request.headers, dict(query))
    version = dict(query).get("cartesia_version", request.headers.get("cartesia-version"))
    return Asked(request.method, split.path, query, headers, auth, credential, version)


def _credential(
    headers: Mapping[str, str], params: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(method, value) of the first credential present, in the service's order."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        return "bearer", token.strip() if scheme.lower() == "bearer" else ""
    header_key = headers.get("X-API-Key")
    if header_key is not None:
        return "x-api-key", header_key
    for name in ("api_key", "access_token"):
        if name in params:
            return name, params[name]
    return None, None


def key_refusal(asked: Asked, expected: str) -> tuple[str, str] | None:
    """(error_code, message) when the server checks keys and this request's is wrong."""
    if not expected:
        return None
    if asked.credential is None:
        return "unauthorized", "missing API key"
    if not hmac.compare_digest(asked.credential.encode(), expected.encode()):
        return "unauthorized", "invalid API key"
    return None


def error_response(
    status: int, error_code: str, message: str, request_id: str | None = None
) -> web.Response:
    """An HTTP error as the service sends one; 429 and 503 say when to come back."""
    body = json.dumps(
        {
            "error_code": error_code,
            "title": status_phrase(status),
            "message": message,
            "request_id": request_id or str(uuid.uuid4()),
        }
    )
    response = web.Response(status=status, text=body + "\n", content_type="application/json")
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


__all__ = ["Asked", "REQUEST_LOGGER", "error_response", "key_refusal", "read_request"]
