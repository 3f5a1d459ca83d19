"""What a client asked for: the upgrade's query string, checked as the service checks it.

Pure functions from strings to a :class:`SessionRequest` or a :class:`Rejection`. Bad values
are not HTTP errors: the service accepts the upgrade, sends an ``error`` event with
``status_code`` 400 and closes, so a rejection here becomes exactly that in the connection
handler. The query is decoded with form rules by the caller (``+`` and ``%20`` are spaces).

The limits themselves are shared data (:mod:`jobrunner.protocol.limits`); this module checks them
with its own code, apart from the client's, so a bug in one check is not mirrored in the other.

Choices where the service is silent (documented in ``jobrunner serve --help`` too):

- ``sample_rate`` is an integer from 8000 to 48000 Hz; ``16000.0`` is accepted as 16000.
- Numbers may be written as floats (``5600.0``); NaN and infinities are rejected.
- An optional parameter sent with an empty value is rejected: clients omit unset ones.
- ``cartesia-version`` (header) / ``cartesia_version`` (query, wins) must look like
  YYYY-MM-DD and be a real date; a missing version is accepted (and recorded as None).
- Thresholds must keep start > eager end > end after defaults are filled in, as the
  service's reference documents ("must stay between the end and start thresholds").
- Unknown query parameters are ignored; a repeated one counts by its last value, except
  ``keyterm`` which repeats by design.
- Manual: ``language`` is any two- or three-letter lower-case code (default ``en``);
  ``min_volume`` (0-1) and ``max_silence_duration_secs`` (0-60) are for ink-whisper only and
  a 400 with any other model. They are checked and recorded; the engine's own turn detection
  does not auto-finalize on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from jobrunner.protocol.limits import (
    ENCODINGS,
    MAX_KEYTERM_CHARS,
    MAX_KEYTERMS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    MODELS,
    TURN_PARAMETERS,
)
from jobrunner.server.turn_detector import TurnParams

#: query parameter -> the TurnParams field it sets (ranges: :data:`TURN_PARAMETERS`)
TURN_FIELDS: Final = {
    "turn_start_threshold": "start_threshold",
    "turn_eager_end_threshold": "eager_end_threshold",
    "turn_end_threshold": "end_threshold",
    "turn_end_timeout_ms": "end_timeout_ms",
}

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")

#: models of the Manual endpoint and of Batch (``protocol.md`` section 1, and the SDK's dated
#: ink-whisper snapshot); the Auto models are shared data (:data:`MODELS`)
MANUAL_MODELS: Final = ("ink-2", "ink-whisper", "ink-whisper-2025-06-04")
BATCH_MODELS: Final = ("ink-whisper", "ink-whisper-2025-06-04")

#: Manual parameters for ink-whisper only, with our ranges (the service documents none):
#: ``min_volume`` is a level from 0 to 1, ``max_silence_duration_secs`` up to a minute
WHISPER_ONLY: Final = {"min_volume": (0.0, 1.0), "max_silence_duration_secs": (0.0, 60.0)}


@dataclass(frozen=True)
class Rejection:
    """Why a request cannot be served; sent as an ``error`` event, then the socket closes."""

    message: str
    error_code: str = "invalid_request"
    status_code: int = 400


@dataclass(frozen=True)
class SessionRequest:
    model: str
    encoding: str
    sample_rate: int
    turn: TurnParams
    keyterms: tuple[str, ...] = ()
    version: str | None = None


def _number(name: str, raw: str) -> float | Rejection:
    try:
        value = float(raw)
    except ValueError:
        return Rejection(f"{name} must be a number, got {raw!r}", "invalid_parameter")
    if not math.isfinite(value):
        return Rejection(f"{name} must be a finite number, got {raw!r}", "invalid_parameter")
    return value


def check_turn(turn: TurnParams) -> Rejection | None:
    """Ranges of every set field, and start > eager end > end once defaults are filled in."""
    for query_name, field_name in TURN_FIELDS.items():
        value = getattr(turn, field_name)
        low, high = TURN_PARAMETERS[query_name].low, TURN_PARAMETERS[query_name].high
        if value is not None and not low <= value <= high:
            return Rejection(
                f"{query_name} must be between {low:g} and {high:g}, got {value!r}",
                "invalid_parameter",
            )
    start, eager, end, _ = turn.resolved()
    if not start > eager > end:
        return Rejection(
            "turn thresholds must satisfy start > eager_end > end "
            f"(got start {start:g}, eager_end {eager:g}, end {end:g})",
            "invalid_parameter",
        )
    return None


def check_version(version: str | None) -> Rejection | None:
    if version is None:
        return None
    bad = Rejection(
        f"cartesia version must be a date YYYY-MM-DD, got {version!r}", "invalid_version"
    )
    if not _VERSION.fullmatch(version):
        return bad
    try:
        date.fromisoformat(version)
    except ValueError:
        return bad
    return None


@dataclass(frozen=True)
class ManualRequest:
    """A valid Manual (``/stt/websocket``) request."""

    model: str
    encoding: str
    sample_rate: int
    language: str = "en"
    keyterms: tuple[str, ...] = ()
    version: str | None = None
    min_volume: float | None = None
    max_silence_duration_secs: float | None = None


@dataclass(frozen=True)
class _Common:
    model: str
    encoding: str
    sample_rate: int
    keyterms: tuple[str, ...]
    version: str | None
    last: dict[str, str]


def _split(query: Sequence[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    last: dict[str, str] = {}
    keyterms: list[str] = []
    for key, value in query:
        if key == "keyterm":
            keyterms.append(value)
        else:
            last[key] = value
    return last, keyterms


def _common(
    query: Sequence[tuple[str, str]], version_header: str | None, models: Sequence[str]
) -> _Common | Rejection:
    """What both websocket endpoints check: version, model, encoding, rate, keyterms."""
    last, keyterms = _split(query)
    version = last.get("cartesia_version", version_header)
    if (rejected := check_version(version)) is not None:
        return rejected
    model = last.get("model")
    if not model:
        return Rejection(f"model is required (use {models[0]!r})", "missing_parameter")
    if model not in models:
        return Rejection(
            f"unknown model {model!r} for this endpoint (use {', '.join(models)})",
            "invalid_model",
        )
    encoding = last.get("encoding")
    if not encoding:
        return Rejection("encoding is required", "missing_parameter")
    if encoding not in ENCODINGS:
        return Rejection(
            f"unsupported encoding {encoding!r} (use one of {', '.join(ENCODINGS)})",
            "invalid_encoding",
        )
    raw_rate = last.get("sample_rate")
    if not raw_rate:
        return Rejection("sample_rate is required", "missing_parameter")
    rate = _number("sample_rate", raw_rate)
    if isinstance(rate, Rejection):
        return Rejection(rate.message, "invalid_sample_rate")
    if rate != int(rate) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        return Rejection(
            f"sample_rate must be an integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, "
            f"got {raw_rate!r}",
            "invalid_sample_rate",
        )
    if (rejected := _check_keyterms(keyterms)) is not None:
        return rejected
    return _Common(model, encoding, int(rate), tuple(keyterms), version, last)


def _check_keyterms(keyterms: Sequence[str]) -> Rejection | None:
    if any(not term.strip() for term in keyterms):
        return Rejection("keyterm values must not be empty", "invalid_keyterm")
    if len(keyterms) > MAX_KEYTERMS:
        return Rejection(
            f"at most {MAX_KEYTERMS} keyterms are allowed, got {len(keyterms)}", "invalid_keyterm"
        )
    if sum(len(term) for term in keyterms) > MAX_KEYTERM_CHARS:
        return Rejection(
            f"keyterms may total at most {MAX_KEYTERM_CHARS} characters", "invalid_keyterm"
        )
    return None


def parse_request(
    query: Sequence[tuple[str, str]], *, version_header: str | None = None
) -> SessionRequest | Rejection:
    """Validate the decoded query pairs of an Auto endpoint upgrade."""
    common = _common(query, version_header, MODELS)
    if isinstance(common, Rejection):
        return common
    values: dict[str, float] = {}
    for query_name, field_name in TURN_FIELDS.items():
        if query_name not in common.last:
            continue
        number = _optional_number(query_name, common.last[query_name])
        if isinstance(number, Rejection):
            return number
        values[field_name] = number
    turn = TurnParams(**values)
    if (rejected := check_turn(turn)) is not None:
        return rejected
    return SessionRequest(
        model=common.model,
        encoding=common.encoding,
        sample_rate=common.sample_rate,
        turn=turn,
        keyterms=common.keyterms,
        version=common.version,
    )


def _optional_number(name: str, raw: str) -> float | Rejection:
    if raw == "":
        return Rejection(f"{name} is empty (omit it to use the default)", "invalid_parameter")
    return _number(name, raw)


def check_language(language: str) -> Rejection | None:
    if not _LANGUAGE.fullmatch(language):
        return Rejection(
            f"language must be an ISO-639-1 code such as 'en', got {language!r}",
            "invalid_language",
        )
    return None


def parse_manual_request(
    query: Sequence[tuple[str, str]], *, version_header: str | None = None
) -> ManualRequest | Rejection:
    """Validate the decoded query pairs of a Manual endpoint upgrade."""
    common = _common(query, version_header, MANUAL_MODELS)
    if isinstance(common, Rejection):
        return common
    language = common.last.get("language", "en")
    if (rejected := check_language(language)) is not None:
        return rejected
    whisper_only: dict[str, float] = {}
    for name, (low, high) in WHISPER_ONLY.items():
        if name not in common.last:
            continue
        if not common.model.startswith("ink-whisper"):
            return Rejection(
                f"{name} is for ink-whisper only (model {common.model!r})", "invalid_parameter"
            )
        number = _optional_number(name, common.last[name])
        if isinstance(number, Rejection):
            return number
        if not low <= number <= high:
            return Rejection(
                f"{name} must be between {low:g} and {high:g}, got {number!r}",
                "invalid_parameter",
            )
        whisper_only[name] = number
    return ManualRequest(
        model=common.model,
        encoding=common.encoding,
        sample_rate=common.sample_rate,
        language=language,
        keyterms=common.keyterms,
        version=common.version,
        min_volume=whisper_only.get("min_volume"),
        max_silence_duration_secs=whisper_only.get("max_silence_duration_secs"),
    )


__all__ = [
    "BATCH_MODELS",
    "MANUAL_MODELS",
    "ManualRequest",
    "Rejection",
    "SessionRequest",
    "TURN_FIELDS",
    "check_turn",
    "check_language",
    "check_version",
    "parse_manual_request",
    "parse_request",
]
