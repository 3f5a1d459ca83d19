"""The live session limit: a probe first, then additive increase / multiplicative decrease.

Pure state, clock injected; the worker mirrors :attr:`AdaptiveLimit.limit` into the
:class:`Slots` its sessions borrow from (:meth:`AdaptiveLimit.open_slots`: an
``anyio.CapacityLimiter``), so no more than ``limit`` sessions run and never more than
``ceiling`` (``--concurrency``). With ``run --processes`` the limit is one for all worker
processes: their parent owns it and hands out the slots (:mod:`jobrunner.run.multi`).

* **Probe.** A run starts with one session. Only when a handshake has succeeded (the first
  server event arrived) does the limit open to the ceiling. A wrong key therefore costs one
  upgrade, not ``--concurrency`` of them, and an unreachable service is probed by one session
  at a time instead of N sessions each retrying.
* **Decrease.** A 429 halves the limit (never below 1). The sessions already refused were all
  started under the old limit, so 429s arriving within ``cooldown_s`` of a decrease are one
  signal, not several.
* **Increase.** Every ``limit`` successful handshakes since the last change add one slot, up to
  the ceiling: one step per "round" of sessions, as TCP grows its window per round trip.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import anyio

#: seconds during which further 429s do not lower the limit again
COOLDOWN_S = 1.0


class Slots(Protocol):
    """What the claim loop needs of its session slots (``anyio.CapacityLimiter`` has it)."""

    @property
    def available_tokens(self) -> float: ...

    @property
    def total_tokens(self) -> float: ...

    @total_tokens.setter
    def total_tokens(self, value: float) -> None: ...

    async def acquire_on_behalf_of(self, borrower: object) -> None: ...

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None: ...

    def release_on_behalf_of(self, borrower: object) -> None: ...


class AdaptiveLimit:
    def __init__(
        self,
        ceiling: int,
        *,
        clock: Callable[[], float],
        probe: bool = True,
        cooldown_s: float = COOLDOWN_S,
    ) -> None:
        if ceiling < 1:
            raise ValueError(f"ceiling must be >= 1, got {ceiling}")
        self.ceiling = ceiling
        self.limit = 1 if probe else ceiling
        self.probing = probe
        self.decreases = 0
        self.lowest = ceiling  # the lowest limit a 429 brought it to
        self._clock = clock
        self._cooldown_s = cooldown_s
        self._last_decrease = -math.inf
        self._successes = 0

    def open_slots(self) -> Slots:
        """The slots the worker's sessions borrow (inside the event loop)."""
        return anyio.CapacityLimiter(self.limit)

    def connected(self) -> bool:
        """A handshake succeeded. Returns True when the limit changed."""
        if self.probing:
            self.probing = False
            self._successes = 0
            changed = self.limit != self.ceiling
            self.limit = self.ceiling
            return changed
        if self.limit >= self.ceiling:
            return False
        self._successes += 1
        if self._successes < self.limit:
            return False
        self._successes = 0
        self.limit += 1
        return True

    def rate_limited(self) -> bool:
        """The service answered 429. Returns True when the limit changed."""
        now = self._clock()
        if now - self._last_decrease < self._cooldown_s:
            return False
        self._last_decrease = now
        self._successes = 0
        new = max(1, self.limit // 2)
        if new == self.limit:
            return False
        self.limit = new
        self.decreases += 1
        self.lowest = min(self.lowest, new)
        return True


__all__ = ["COOLDOWN_S", "AdaptiveLimit", "Slots"]
