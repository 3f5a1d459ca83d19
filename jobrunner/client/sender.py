"""The session's outgoing half: audio chunks at the pacer's schedule, then our close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.lowlevel
from anyio.abc import ObjectReceiveStream

from jobrunner.client.pacer import Clock, Pacer
from jobrunner.client.transport import Sleep
from jobrunner.protocol.events import CLOSE_MESSAGE


class Sink(Protocol):
    """Where the frames go: a :class:`~jobrunner.client.transport.Transport`, or a wrapper
    that adds an endpoint's own commands (``client.manual``)."""

    async def send(self, data: bytes | str) -> None: ...


class PacedSender:
    """Sends the read-ahead's batches at realtime pace, then ``{"type": "close"}``.

    :attr:`audio_s_sent` is the session's audio clock (the turn timings read it as events
    arrive). The pacer's clock starts with audio in hand, so chunk 0 is never late; ``close``
    goes out when the end of the audio is due.
    """

    def __init__(self, pacer: Pacer, bytes_per_second: int, *, clock: Clock, sleep: Sleep) -> None:
        self.pacer = pacer
        self.bytes_per_second = bytes_per_second
        self.clock = clock
        self.sleep = sleep
        self.bytes_sent = 0

    @property
    def audio_s_sent(self) -> float:
        return self.bytes_sent / self.bytes_per_second

    async def send_all(
        self,
        transport: Sink,
        batches: ObjectReceiveStream[list[bytes]],
        on_close_sent: Callable[[], None],
    ) -> None:
        """Send every chunk, then our close, and call ``on_close_sent`` at once. Raises
        :class:`ConnectionLostError` when the connection closes under it."""
        bps, pacer = self.bytes_per_second, self.pacer
        started = False
        async with batches:
            async for batch in batches:
                if not started:
                    pacer.start(self.clock())
                    started = True
                for chunk in batch:
                    offset = self.bytes_sent / bps
                    await self._sleep_until(pacer.due(offset))
                    await transport.send(chunk)
                    self.bytes_sent += len(chunk)
                    pacer.sent(offset, len(chunk) / bps, self.clock())
        if not started:
            pacer.start(self.clock())
        await self._sleep_until(pacer.close_due())
        await transport.send(CLOSE_MESSAGE)
        pacer.closed(self.clock())
        on_close_sent()

    async def _sleep_until(self, due: float) -> None:
        delay = due - self.clock()
        if delay > 0:
            await self.sleep(delay)
        else:
            await anyio.lowlevel.checkpoint()  # late: catch up, but let the receiver run


__all__ = ["PacedSender"]
