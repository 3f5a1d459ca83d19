"""Deterministic fault injection for the local server (``--faults SPEC --seed N``).

Every failure the client must survive, on demand, reproducibly. A spec is a comma-separated
list of rules ``KIND[@SECONDS]=WHEN`` plus an optional ``limit=N``::

    upgrade_503=0.2            20 % of upgrades answered HTTP 503
    upgrade_429=first:3        the first 3 upgrades answered HTTP 429
    drop@1.5=0.1               10 % of sessions: abrupt TCP close (no close frame, the client
                               sees 1006) once 1.5 s of audio arrived (default 0.5 s)
    error_500=first:1          an ``error`` event (status 500) then close 1011 (4xx: 1008),
    error_400@2=0.05             after SECONDS of audio (default 0.5 s)
    stall=0.1                  stop sending events from SECONDS of audio (default: at the
                               client's close) and never close; only the client can end it
    slow_drain@3=0.2           wait SECONDS (default 2) after the client's close before the
                               final events and the close
    drop_text@2=0.2            silent damage: the first turn that starts once SECONDS of audio
                               arrived (default 0.5 s) loses its text: no ``turn.update``, and
                               its ``turn.eager_end``/``turn.end`` carry an empty transcript
    end_early@2=0.2            silent damage: no turn that starts once SECONDS of audio arrived
                               is reported (no event of it at all); the session still flushes
                               and closes 1000 as if all went well
    no_done=0.1                Manual: after the client's ``close``, the final transcripts
                               but never ``done`` nor a close; the client's drain timeout ends it
    late_interim=0.1           Manual: an ``is_final: false`` transcript after the last final
                               of the close (a bad answer the client must detect)
    batch_503=0.2              Batch: answer HTTP 503 (any 4xx/5xx: batch_429 carries
                               ``Retry-After``, like 503) with the service's error body
    batch_slow@3=0.2           Batch: answer SECONDS (default 2) late
    batch_garbage=0.1          Batch: a 200 whose body is not JSON
    batch_shape=0.1            Batch: a 200 JSON object without the transcript's fields
    limit=5                    inject at most 5 faults in total, then behave

WHEN is a probability (``0.25``) or ``first:N`` (the first N connections that reach this rule).
Upgrade rules are judged for every websocket upgrade with a valid path and key; session rules
(drop ... end_early) for every accepted, valid websocket session, Auto or Manual; the Manual
rules for Manual sessions only; Batch rules for every Batch request with a valid key. Within a
phase the first rule that fires wins. A session whose audio
ends before a rule's SECONDS gets its fault when it sends ``close``, so a fault always fires
once chosen, except the silent damage (``drop_text``, ``end_early``): it fires only when a turn
starts after SECONDS (the flush included), and is counted in the server's stats only then. The
damage itself is :class:`jobrunner.server.damage.TurnDamage`. Whether a rule fires for
connection number *k* depends only on the seed, *k* and the rule's position, so a sequential
test sees the same faults every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final, Literal

from jobrunner.errors import UsageError

FaultKind = Literal[
    "upgrade",
    "error",
    "drop",
    "stall",
    "slow_drain",
    "drop_text",
    "end_early",
    "no_done",
    "late_interim",
    "batch_status",
    "batch_slow",
    "batch_garbage",
    "batch_shape",
]
Phase = Literal["upgrade", "session", "manual", "batch"]
#: faults that damage the turns silently (no error, a normal close): the coverage check's prey
SILENT_KINDS: Final = frozenset({"drop_text", "end_early"})

DEFAULT_AT_S: Final = 0.5
DEFAULT_DRAIN_DELAY_S: Final = 2.0

MANUAL_KINDS: Final = frozenset({"no_done", "late_interim"})
BATCH_KINDS: Final = frozenset({"batch_status", "batch_slow", "batch_garbage", "batch_shape"})

#: kinds without a status or SECONDS
_PLAIN: Final[dict[str, FaultKind]] = {
    "no_done": "no_done",
    "late_interim": "late_interim",
    "batch_garbage": "batch_garbage",
    "batch_shape": "batch_shape",
}

_RULE = re.compile(
    r"(?P<kind>upgrade_(?P<ustatus>\d{3})|error_(?P<estatus>\d{3})|batch_(?P<bstatus>\d{3})"
    r"|drop_text|drop|stall|slow_drain|end_early|no_done|late_interim|batch_slow"
    r"|batch_garbage|batch_shape)"
    r"(?:@(?P<seconds>\d+(?:\.\d*)?|\.\d+))?"
    r"=(?P<when>first:\d+|\d*\.?\d+)"
)


@dataclass(frozen=True)
class Fault:
    """One injected failure. ``at_s``: audio seconds before it fires (None: at close)."""

    kind: FaultKind
    status: int | None = None
    at_s: float | None = None
    delay_s: float = 0.0

    @property
    def label(self) -> str:
        """Counter key in the server stats, e.g. ``upgrade_503``, ``drop``, ``batch_429``."""
        if self.kind == "batch_status":
            return f"batch_{self.status}"
        return f"{self.kind}_{self.status}" if self.status is not None else self.kind

    @property
    def phase(self) -> Phase:
        if self.kind == "upgrade":
            return "upgrade"
        if self.kind in MANUAL_KINDS:
            return "manual"
        if self.kind in BATCH_KINDS:
            return "batch"
        return "session"


@dataclass(frozen=True)
class FaultRule:
    fault: Fault
    probability: float | None = None  # None -> ``first``
    first: int = 0


@dataclass(frozen=True)
class FaultSpec:
    rules: tuple[FaultRule, ...] = ()
    limit: int | None = None
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.rules)


def parse_faults(spec: str | None) -> FaultSpec:
    """Parse a ``--faults`` spec; a malformed one raises :class:`UsageError`."""
    if not spec or not spec.strip():
        return FaultSpec()
    rules: list[FaultRule] = []
    limit: int | None = None
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item.startswith("limit="):
            value = item.removeprefix("limit=")
            if not value.isdigit():
                raise UsageError(f"--faults: limit must be a whole number, got {value!r}")
            limit = int(value)
            continue
        match = _RULE.fullmatch(item)
        if match is None:
            raise UsageError(
                f"--faults: cannot read {item!r} (expected KIND[@SECONDS]=P or "
                "KIND[@SECONDS]=first:N; kinds: upgrade_NNN, error_NNN, drop, stall, "
                "slow_drain, drop_text, end_early, no_done, late_interim, batch_NNN, "
                "batch_slow, batch_garbage, batch_shape; see jobrunner serve --help)"
            )
        rules.append(_rule(item, match))
    return FaultSpec(rules=tuple(rules), limit=limit, text=spec)


def _rule(item: str, match: re.Match[str]) -> FaultRule:
    seconds = float(match["seconds"]) if match["seconds"] is not None else None
    name = match["kind"]
    fault: Fault
    if match["ustatus"] is not None:
        status = int(match["ustatus"])
        if not _known_error(status) or seconds is not None:
            raise UsageError(f"--faults: {item!r}: upgrade faults take a 4xx/5xx status, no @")
        fault = Fault("upgrade", status=status)
    elif match["estatus"] is not None:
        status = int(match["estatus"])
        if not _known_error(status):
            raise UsageError(f"--faults: {item!r}: error events take a 4xx/5xx status")
        fault = Fault("error", status=status, at_s=_or(seconds, DEFAULT_AT_S))
    elif match["bstatus"] is not None:
        status = int(match["bstatus"])
        if not _known_error(status) or seconds is not None:
            raise UsageError(f"--faults: {item!r}: batch faults take a 4xx/5xx status, no @")
        fault = Fault("batch_status", status=status)
    elif name == "batch_slow":
        fault = Fault("batch_slow", delay_s=_or(seconds, DEFAULT_DRAIN_DELAY_S))
    elif name in _PLAIN:
        if seconds is not None:
            raise UsageError(f"--faults: {item!r}: {name} takes no @SECONDS")
        fault = Fault(_PLAIN[name])
    elif name == "drop":
        fault = Fault("drop", at_s=_or(seconds, DEFAULT_AT_S))
    elif name == "stall":
        fault = Fault("stall", at_s=seconds)
    elif name == "drop_text":
        fault = Fault("drop_text", at_s=_or(seconds, DEFAULT_AT_S))
    elif name == "end_early":
        fault = Fault("end_early", at_s=_or(seconds, DEFAULT_AT_S))
    else:
        fault = Fault("slow_drain", delay_s=_or(seconds, DEFAULT_DRAIN_DELAY_S))
    when = match["when"]
    if when.startswith("first:"):
        return FaultRule(fault, first=int(when.removeprefix("first:")))
    probability = float(when)
    if not 0.0 <= probability <= 1.0:
        raise UsageError(f"--faults: {item!r}: a probability must be between 0 and 1")
    return FaultRule(fault, probability=probability)


def _known_error(status: int) -> bool:
    return 400 <= status <= 599 and status in {s.value for s in HTTPStatus}


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass
class FaultInjector:
    """Decides, per connection, which fault (if any) it gets. Not thread-safe: one event loop."""

    spec: FaultSpec
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    _seen: dict[int, int] = field(default_factory=dict)  # rule index -> connections judged

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def for_upgrade(self, connection: int) -> Fault | None:
        """Connection number ``connection`` (1-based) reached the upgrade decision."""
        return self._decide(connection, ("upgrade",))

    def for_session(self, connection: int, *, manual: bool = False) -> Fault | None:
        """Connection number ``connection`` was accepted with valid parameters."""
        return self._decide(connection, ("session", "manual") if manual else ("session",))

    def for_batch(self, request: int) -> Fault | None:
        """Batch request number ``request`` (1-based, counted apart from websockets)."""
        return self._decide(request, ("batch",))

    def _decide(self, connection: int, phases: tuple[Phase, ...]) -> Fault | None:
        for index, rule in enumerate(self.spec.rules):
            if rule.fault.phase not in phases:
                continue
            if self.spec.limit is not None and self.total >= self.spec.limit:
                return None
            seen = self._seen.get(index, 0) + 1
            self._seen[index] = seen
            if rule.probability is None:
                fires = seen <= rule.first
            else:
                draw = random.Random(f"{self.seed}:{connection}:{index}").random()
                fires = draw < rule.probability
            if fires:
                label = rule.fault.label
                self.injected[label] = self.injected.get(label, 0) + 1
                return rule.fault
        return None


def describe(rules: Sequence[FaultRule]) -> str:
    """Short human summary for the serve banner."""
    parts = []
    for rule in rules:
        when = f"first {rule.first}" if rule.probability is None else f"p={rule.probability:g}"
        parts.append(f"{rule.fault.label} ({when})")
    return ", ".join(parts)


__all__ = [
    "BATCH_KINDS",
    "MANUAL_KINDS",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultRule",
    "FaultSpec",
    "Phase",
    "SILENT_KINDS",
    "describe",
    "parse_faults",
]
