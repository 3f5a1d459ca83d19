"""The opening handshake of the Auto endpoint, as the official Python SDK performs it.

Facts taken from ``cartesia`` 4.2 (``AsyncAutoFinalizeResourceConnectionManager._connect_ws`` and
``_prepare_url``), checked by capturing the URL it hands to ``websockets.connect``:

* URL: the base URL with ``http`` -> ``ws`` and ``https`` -> ``wss``; its path prefix is kept
  (trailing ``/`` stripped) and ``/stt/turns/websocket`` appended; the host is lower-cased and a
  default port dropped (httpx does that for the SDK). The SDK turns *any* other scheme into
  ``wss``; we keep an explicit ``ws``/``wss`` and reject anything else. A query on the base URL
  (e.g. ``?api_key=`` for a proxy) comes first, as the SDK intends (4.2 mangles the path then).
* Query, in this order: the base URL's own query pairs, then ``encoding``, ``model``,
  ``sample_rate``, ``keyterm`` (one pair per term), ``turn_eager_end_threshold``,
  ``turn_end_threshold``, ``turn_end_timeout_ms``, ``turn_start_threshold``. Unset parameters are
  omitted. Values are ``str()`` of the Python value (``0.4``, ``1e-05``, ``5600``) and the query is
  form-encoded like :func:`urllib.parse.urlencode`: space -> ``+``, everything but
  ``A-Za-z0-9_.-~`` percent-encoded as UTF-8.
* Headers: ``Authorization: Bearer <key>`` and ``cartesia-version``; the ``User-Agent`` goes to
  ``websockets.connect(user_agent_header=...)`` (the SDK also adds ``Accept``, ``Content-Type`` and
  ``X-Stainless-*`` telemetry headers, which the endpoint ignores; we do not send them).

Parameter ranges (:mod:`jobrunner.protocol.limits`) are checked here, before any connection, so
a typo fails the run at once with :class:`ConfigError` instead of 400 per job. The bundled
server checks the same limits with its own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobrunner import __version__
from jobrunner.errors import ConfigError
from jobrunner.protocol.events import AUTO_PATH
from jobrunner.protocol.limits import (
    ENCODINGS,
    MAX_KEYTERM_CHARS,
    MAX_KEYTERMS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    TURN_PARAMETERS,
)
from jobrunner.redact import redact_url

if TYPE_CHECKING:
    from jobrunner.config import Secret, Settings

USER_AGENT: Final = f"jobrunner/{__version__}"

_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCHEMES: Final = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


@dataclass(frozen=True)
class StreamParams:
    """What the query string carries. ``None``/empty means "not sent": the service default."""

    model: str
    encoding: str
    sample_rate: int
    keyterms: tuple[str, ...] = ()
    turn_start_threshold: float | None = None
    turn_eager_end_threshold: float | None = None
    turn_end_threshold: float | None = None
    turn_end_timeout_ms: int | None = None

    #: the optional query parameters after the keyterms, in the SDK's order
    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "turn_eager_end_threshold",
        "turn_end_threshold",
        "turn_end_timeout_ms",
        "turn_start_threshold",
    )

    @classmethod
    def from_settings(cls, settings: Settings, *, encoding: str, sample_rate: int) -> StreamParams:
        """Stream parameters for one file: the wire format comes from the file, the rest from
        settings."""
        return cls(
            model=settings.model,
            encoding=encoding,
            sample_rate=sample_rate,
            keyterms=tuple(settings.keyterms),
            turn_start_threshold=settings.turn_start_threshold,
            turn_eager_end_threshold=settings.turn_eager_end_threshold,
            turn_end_threshold=settings.turn_end_threshold,
            turn_end_timeout_ms=settings.turn_end_timeout_ms,
        )

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first parameter the service would reject."""
        if not self.model.strip():
            raise ConfigError("model must not be empty")
        if self.encoding not in ENCODINGS:
            raise ConfigError(
                f"encoding {self.encoding!r} is not one of {', '.join(sorted(ENCODINGS))}"
            )
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int):
            raise ConfigError(f"sample_rate must be an integer (Hz), got {self.sample_rate!r}")
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ConfigError(
                f"sample_rate must be in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz, "
                f"got {self.sample_rate}"
            )
        self._validate_keyterms()
        self._validate_turn()

    def _validate_keyterms(self) -> None:
        if len(self.keyterms) > MAX_KEYTERMS:
            raise ConfigError(f"keyterm: at most {MAX_KEYTERMS} terms, got {len(self.keyterms)}")
        if any(not term.strip() for term in self.keyterms):
            raise ConfigError("keyterm: terms must not be empty")
        total = sum(len(term) for term in self.keyterms)
        if total > MAX_KEYTERM_CHARS:
            raise ConfigError(f"keyterm: at most {MAX_KEYTERM_CHARS} characters, got {total}")

    def _validate_turn(self) -> None:
        for name, limits in TURN_PARAMETERS.items():
            value = getattr(self, name)
            if value is not None and value not in limits:
                raise ConfigError(f"{name} must be in {limits.low:g}..{limits.high:g}, got {value}")
        # the defaults matter only for the ordering when just some thresholds are set
        start, eager, end = (
            TURN_PARAMETERS[name].default if value is None else value
            for name, value in (
                ("turn_start_threshold", self.turn_start_threshold),
                ("turn_eager_end_threshold", self.turn_eager_end_threshold),
                ("turn_end_threshold", self.turn_end_threshold),
            )
        )
        if not end < eager < start:
            raise ConfigError(
                "turn thresholds must satisfy turn_end_threshold < turn_eager_end_threshold < "
                f"turn_start_threshold (unset ones at their defaults), got {end} / {eager} / "
                f"{start}"
            )

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query in the SDK's order, unset parameters left out."""
        pairs: list[tuple[str, str]] = [
            ("encoding", self.encoding),
            ("model", self.model),
            ("sample_rate", str(self.sample_rate)),
        ]
        pairs.extend(("keyterm", term) for term in self.keyterms)
        for name in self.OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, str(value)))
        return pairs


class QueryParams(Protocol):
    """What :func:`build_url` needs of an endpoint's parameters."""

    def validate(self) -> None: ...

    def query_pairs(self) -> list[tuple[str, str]]: ...


def build_url(base_url: str, params: QueryParams, path: str = AUTO_PATH) -> str:
    """The URL of the endpoint at ``path`` (Auto unless told) for ``params`` under
    ``base_url``, exactly as the SDK builds it.

    Raises :class:`ConfigError` for a base URL that is not http(s)/ws(s) with a host, or for a
    parameter out of range.
    """
    params.validate()
    parts = urlsplit(base_url.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ConfigError(f"base_url must be an http(s):// or ws(s):// URL, got {base_url!r}")
    if parts.fragment:
        raise ConfigError(f"base_url must not have a #fragment, got {redact_url(base_url)!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"base_url has an invalid port: {redact_url(base_url)!r}") from exc
    # Normalised like httpx does for the SDK: lower-case host, default port dropped.
    host = parts.hostname
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = userinfo + at + netloc
    path = parts.path.rstrip("/") + path
    pairs = parse_qsl(parts.query, keep_blank_values=True) + params.query_pairs()
    return urlunsplit((scheme, netloc, path, urlencode(pairs), ""))


def build_headers(api_key: str | Secret, cartesia_version: str) -> dict[str, str]:
    """Headers for the upgrade request (without ``User-Agent``: pass :data:`USER_AGENT` to
    ``websockets.connect(user_agent_header=...)``).

    An empty key sends no ``Authorization`` at all (the local server started without
    ``--api-key`` needs none; ``Bearer `` with nothing after it is malformed).
    """
    if not _VERSION_RE.fullmatch(cartesia_version):
        raise ConfigError(f"cartesia_version must be YYYY-MM-DD, got {cartesia_version!r}")
    key = api_key if isinstance(api_key, str) else api_key.reveal()
    headers: dict[str, str] = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    headers["cartesia-version"] = cartesia_version
    return headers
