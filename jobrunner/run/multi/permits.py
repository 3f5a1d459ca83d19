"""One session limit for all worker processes: the parent's broker hands out the slots, each
child borrows them through :class:`SharedSlots`.

The parent owns the run's :class:`~jobrunner.run.concurrency.AdaptiveLimit` (probe first, 429s
halve it, handshakes grow it back). A child asks for as many slots as its share of
``--concurrency`` has free (:class:`~jobrunner.run.multi.channel.Want`); the broker grants
while fewer than ``limit`` are out, one at a time round the children, and a slot comes back
when its session ends. Lowering the limit revokes nothing, as in one process: sessions running
finish, and no slot is granted again until fewer than the new limit are out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from jobrunner.run.concurrency import AdaptiveLimit, Slots
from jobrunner.run.multi.channel import Connected, RateLimited, Release, Want


class PermitBroker:
    """The parent's side (plain state, no I/O): who holds and who wants how many slots."""

    def __init__(self, limit: AdaptiveLimit, children: int) -> None:
        self.limit = limit
        self.held = [0] * children
        self.wanted = [0] * children
        self._next = 0

    @property
    def out(self) -> int:
        return sum(self.held)

    def want(self, child: int, slots: int) -> None:
        self.wanted[child] = slots

    def release(self, child: int, slots: int) -> None:
        self.held[child] = max(0, self.held[child] - slots)

    def gone(self, child: int) -> None:
        """The child ended (or died): its slots are free again."""
        self.held[child] = self.wanted[child] = 0

    def grants(self) -> dict[int, int]:
        """Slots to grant now, by child: one at a time round the children that want some."""
        given: dict[int, int] = {}
        children = len(self.held)
        while self.out < self.limit.limit and any(self.wanted):
            child = self._next
            self._next = (self._next + 1) % children
            if self.wanted[child] > 0:
                self.wanted[child] -= 1
                self.held[child] += 1
                given[child] = given.get(child, 0) + 1
        return given


class SharedSlots:
    """A child's session slots, borrowed from the parent (the part of ``CapacityLimiter`` the
    claim loop uses). Slots granted while nobody waits for one go straight back."""

    def __init__(self, ceiling: int, send: Callable[[object], None]) -> None:
        self._ceiling = ceiling
        self._send = send
        self._borrowers: set[object] = set()
        self._free = 0
        self._asked = 0
        self._waiters = 0
        self._granted = anyio.Event()

    @property
    def available_tokens(self) -> float:
        return float(self._free)

    @property
    def total_tokens(self) -> float:
        return float(self._ceiling)

    @total_tokens.setter
    def total_tokens(self, value: float) -> None:
        """The parent owns the limit: a child's share never changes."""

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        self._waiters += 1
        try:
            while self._free == 0:
                self._ask()
                await self._granted.wait()
        finally:
            self._waiters -= 1
        self._take(borrower)

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        if self._free == 0:
            raise anyio.WouldBlock
        self._take(borrower)

    def release_on_behalf_of(self, borrower: object) -> None:
        self._borrowers.remove(borrower)
        self._send(Release(1))
        if self._waiters:  # it waited with every slot of its share in use
            self._ask()

    def granted(self, slots: int) -> None:
        """The parent granted ``slots`` (on the event loop)."""
        self._asked = max(0, self._asked - slots)
        if not self._waiters:
            self._asked = 0
            self._send(Release(slots))
            self._send(Want(0))
            return
        self._free += slots
        self._granted.set()
        self._granted = anyio.Event()

    def _take(self, borrower: object) -> None:
        self._free -= 1
        self._borrowers.add(borrower)

    def _ask(self) -> None:
        want = self._ceiling - len(self._borrowers) - self._free
        if want > 0 and self._asked == 0:
            self._asked = want
            self._send(Want(want))


class SharedLimit(AdaptiveLimit):
    """A child's view of the parent's limit: handshakes and 429s are reported, never acted on
    here (the parent's limit decides, through the slots it grants)."""

    def __init__(self, ceiling: int, send: Callable[[object], None]) -> None:
        super().__init__(ceiling, clock=time.monotonic, probe=False)
        self._send = send
        self.slots: SharedSlots | None = None

    def open_slots(self) -> Slots:
        self.slots = SharedSlots(self.ceiling, self._send)
        return self.slots

    def connected(self) -> bool:
        self._send(Connected())
        return False

    def rate_limited(self) -> bool:
        self._send(RateLimited())
        return False


__all__ = ["PermitBroker", "SharedLimit", "SharedSlots"]
