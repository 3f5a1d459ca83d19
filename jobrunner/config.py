"""Settings: built-in defaults < profile/config file < environment < command-line flags.

A profile is a TOML file: ``configs/<name>.toml`` shipped with jobrunner (``cartesia``, ``local``)
or a path. The API key may come from ``CARTESIA_API_KEY`` or a config file; it never reaches the
database, a log line, an export or an error message: :class:`Secret` redacts it in ``repr``/``str``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobrunner.errors import ConfigError
from jobrunner.resources import data_dir

DEFAULT_PROFILE = "cartesia"
DEFAULT_DB = "sqlite:///jobrunner.db"
#: ``Settings.channels``: how a multichannel file is heard (see :class:`Settings`)
CHANNEL_MODES = ("downmix", "split", "auto")

#: environment variable -> settings field
ENV_VARS: Mapping[str, str] = {
    "CARTESIA_API_KEY": "api_key",
    "CARTESIA_BASE_URL": "base_url",
    "JOBRUNNER_DB": "db_url",
}
PROFILE_ENV = "JOBRUNNER_PROFILE"
#: values of the ``loop`` setting (see :mod:`jobrunner.run.loop`)
LOOPS = ("auto", "asyncio", "uvloop")
#: the three speech-to-text endpoints (protocol.md section 1)
ENDPOINTS: tuple[str, ...] = ("auto", "manual", "batch")


class Secret:
    """A string that never shows itself: ``repr``, ``str`` and f-strings print ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that needs it (the Authorization header)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know. Frozen: resolved once, passed down explicitly."""

    profile: str = DEFAULT_PROFILE
    db_url: str = DEFAULT_DB
    # service
    base_url: str = "https://api.cartesia.ai"
    api_key: Secret = field(default_factory=lambda: Secret(""))
    model: str = "ink-2"
    cartesia_version: str = "2026-08-14"
    # endpoint: "auto" (/stt/turns/websocket), "manual" (/stt/websocket + finalize), "batch"
    # (POST /stt); batch takes ink-whisper only, so it has its own model setting
    endpoint: str = "auto"
    batch_model: str = "ink-whisper"
    language: str = "en"  # manual and batch only (auto has no language parameter)
    finalize_hangover_ms: int = 300  # manual: from the end of mapped speech to ``finalize``
    min_volume: float | None = None  # manual with ink-whisper only
    max_silence_duration_secs: float | None = None  # manual with ink-whisper only
    # audio: "auto" picks the wire encoding from the file (see audio.stream.choose_encoding)
    encoding: str = "auto"
    chunk_ms: int = 100
    downmix: str = "mono"  # multichannel policy: "mono" (average) or "first"
    # "downmix": one session hears the channels by the downmix policy; "split": one session
    # (or its pieces) per channel; "auto": split when the channels really differ
    channels: str = "downmix"
    resample_rate: int = 16000  # used only when the file's rate is outside 8-48 kHz
    # turn detection (None = not sent, the service default applies)
    turn_start_threshold: float | None = None
    turn_eager_end_threshold: float | None = None
    turn_end_threshold: float | None = None
    turn_end_timeout_ms: int | None = None
    keyterms: tuple[str, ...] = ()
    # run
    concurrency: int = 4
    #: worker processes: "auto" (one per core from jobrunner.run.multi.plan.AUTO_MIN_SESSIONS
    #: sessions, else one) or a count
    processes: str = "auto"
    batch_concurrency: int = 8  # batch requests at once (no pacing; the plan's own limit)
    pace: float = 1.0
    max_attempts: int = 5
    lease_ttl_s: float = 60.0
    grace_seconds: float = 30.0
    loop: str = "auto"  # the event loop: "auto" (uvloop when installed), "asyncio", "uvloop"
    # retry policy (the official SDK: min(0.5 * 2^(n-1), 8) s x U[0.75, 1.0])
    connect_tries: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    requeue_base_s: float = 2.0
    requeue_cap_s: float = 300.0
    # pieces: split a job longer than split_min_s at silences when sessions would idle
    split: bool = True
    split_min_s: float = 600.0
    rate_limit_factor: float = 4.0
    # timeouts
    open_timeout_s: float = 10.0
    stall_timeout_s: float = 20.0
    drain_timeout_s: float = 20.0
    # estimate: no built-in price (``jobrunner estimate --price``); export: names of channels
    price_per_audio_hour: float | None = None
    channel_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.chunk_ms <= 0 or self.chunk_ms > 1000:
            raise ConfigError(f"chunk_ms must be in 1..1000, got {self.chunk_ms}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.processes != "auto" and not (self.processes.isdigit() and int(self.processes) >= 1):
            raise ConfigError(f"processes must be 'auto' or a count >= 1, got {self.processes!r}")
        if self.pace <= 0:
            raise ConfigError(f"pace must be > 0, got {self.pace}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.downmix not in ("mono", "first"):
            raise ConfigError(f"downmix must be 'mono' or 'first', got {self.downmix!r}")
        if self.channels not in CHANNEL_MODES:
            known = ", ".join(CHANNEL_MODES)
            raise ConfigError(f"channels must be one of {known}, got {self.channels!r}")
        if self.split_min_s <= 0:
            raise ConfigError(f"split_min_s must be > 0, got {self.split_min_s}")
        if self.price_per_audio_hour is not None and self.price_per_audio_hour < 0:
            raise ConfigError(f"price_per_audio_hour must be >= 0, got {self.price_per_audio_hour}")
        if self.loop not in LOOPS:
            raise ConfigError(f"loop must be one of {', '.join(LOOPS)}; got {self.loop!r}")
        self._check_endpoint()

    def _check_endpoint(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ConfigError(
                f"endpoint must be one of {', '.join(ENDPOINTS)}, got {self.endpoint!r}"
            )
        if self.batch_concurrency < 1:
            raise ConfigError(f"batch_concurrency must be >= 1, got {self.batch_concurrency}")
        if not 0 <= self.finalize_hangover_ms <= 10_000:
            raise ConfigError(
                f"finalize_hangover_ms must be in 0..10000, got {self.finalize_hangover_ms}"
            )
        if not self.language.strip():
            raise ConfigError("language must not be empty")
        whisper_only = [
            name
            for name in ("min_volume", "max_silence_duration_secs")
            if getattr(self, name) is not None
        ]
        if whisper_only and (self.endpoint != "manual" or self.model != "ink-whisper"):
            raise ConfigError(
                f"{', '.join(whisper_only)}: only the manual endpoint with model ink-whisper "
                f"takes it (endpoint {self.endpoint}, model {self.model})"
            )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def result_settings(self) -> dict[str, Any]:
        """The settings that change a transcript: they make part of a job's idempotency key.

        The channel mode is one of them, but only named when it is not ``downmix``, so the keys
        of jobs enqueued before channel modes existed stay what they were. Splitting is not:
        a split job's stitched transcript is the unsplit one (cuts fall where a turn ends)."""
        mode = {} if self.channels == "downmix" else {"channels": self.channels}
        return mode | {
            "model": self.model,
            "encoding": self.encoding,
            "downmix": self.downmix,
            "resample_rate": self.resample_rate,
            "turn_start_threshold": self.turn_start_threshold,
            "turn_eager_end_threshold": self.turn_eager_end_threshold,
            "turn_end_threshold": self.turn_end_threshold,
            "turn_end_timeout_ms": self.turn_end_timeout_ms,
            "keyterms": list(self.keyterms),
            "endpoint": self.endpoint,
            **self._endpoint_settings(),
        }

    def _endpoint_settings(self) -> dict[str, Any]:
        """What else changes a Manual or Batch transcript (nothing for Auto)."""
        if self.endpoint == "manual":
            return {
                "language": self.language,
                "finalize_hangover_ms": self.finalize_hangover_ms,
                "min_volume": self.min_volume,
                "max_silence_duration_secs": self.max_silence_duration_secs,
            }
        if self.endpoint == "batch":
            return {"language": self.language, "batch_model": self.batch_model}
        return {}

    def fingerprint(self) -> str:
        """Short stable hash of :meth:`result_settings` (never includes the key or URL).

        An Auto job's hash leaves ``endpoint`` out, so queues enqueued before endpoints existed
        keep their idempotency keys."""
        settings = self.result_settings()
        if settings["endpoint"] == "auto":
            del settings["endpoint"]
        blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}

#: every key :meth:`Settings.result_settings` may hold, whatever the endpoint (``channels`` is
#: named only when it is not the default)
RESULT_FIELDS: frozenset[str] = frozenset(
    Settings(channels="split").result_settings()
    | Settings(endpoint="manual").result_settings()
    | Settings(endpoint="batch").result_settings()
)

#: TOML sections are for humans; they flatten onto Settings fields.
_SECTIONS = (
    "service",
    "audio",
    "turns",
    "manual",
    "batch",
    "run",
    "retry",
    "timeouts",
    "database",
    "export",
)


def _profile_path(profile: str) -> Path:
    candidate = Path(profile).expanduser()
    if candidate.suffix == ".toml" or os.sep in profile:
        if not candidate.is_file():
            raise ConfigError(f"config file not found: {candidate}")
        return candidate
    folder = data_dir("configs")
    shipped = folder / f"{profile}.toml"
    if not shipped.is_file():
        names = sorted(p.stem for p in folder.glob("*.toml"))
        raise ConfigError(f"unknown profile {profile!r} (shipped: {', '.join(names)})")
    return shipped


def read_profile(profile: str) -> dict[str, Any]:
    """Flatten a profile's TOML into Settings field values, rejecting unknown keys."""
    path = _profile_path(profile)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    unknown = sorted(set(flat) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return flat


_OPTIONAL_FLOATS = frozenset({"min_volume", "max_silence_duration_secs", "price_per_audio_hour"})


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "api_key":
        return value if isinstance(value, Secret) else Secret(str(value))
    if name in ("keyterms", "channel_labels"):
        if isinstance(value, str):
            return tuple(t for t in (s.strip() for s in value.split(",")) if t)
        return tuple(str(v) for v in value)
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int) or name == "turn_end_timeout_ms":
            return int(float(value))
        if isinstance(default, float) or name.startswith("turn_") or name in _OPTIONAL_FLOATS:
            return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: not a number: {value!r}") from exc
    return str(value)


def load_settings(
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings in order: defaults < profile file < environment < ``overrides`` (flags).

    ``overrides`` values of ``None`` mean "flag not given" and are ignored.
    """
    env = os.environ if env is None else env
    chosen = profile or env.get(PROFILE_ENV) or DEFAULT_PROFILE
    values: dict[str, Any] = {"profile": chosen}
    values.update(read_profile(chosen))
    for var, name in ENV_VARS.items():
        if env.get(var):
            values[name] = env[var]
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = value
    return Settings(**{k: _coerce(k, v) for k, v in values.items()})
