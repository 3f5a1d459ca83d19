"""Reads a file's wire chunks in a worker thread, one batch ahead of the sender.

File reads stay off the event loop. A batch is read while the one before it is sent, so a slow
trip (busy thread pool, cold disk) does not make chunks late. A read that hangs (a hard-mounted
share gone away) cannot be interrupted: when the session is cancelled its thread is abandoned,
left to finish or hang on its own, so the session ends whatever the file system does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Final

import anyio
import anyio.to_thread
from anyio.abc import ObjectSendStream

from jobrunner.audio.stream import WirePlan, iter_chunks

#: audio bytes read per trip to a worker thread. 128 KiB is 4 s of 16 kHz PCM16: at 1,000
#: sessions, 250 thread trips a second, where one trip per second per session (ten 100 ms
#: chunks) cost 40 % of the client's CPU in thread hand-offs (bench/). Memory: two batches per
#: session.
READ_BATCH_BYTES: Final = 128 * 1024


def _take(chunks: Iterator[bytes], n: int) -> list[bytes]:
    batch: list[bytes] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) == n:
            break
    return batch


async def read_ahead(
    path: str, plan: WirePlan, chunk_ms: int, batches: ObjectSendStream[list[bytes]]
) -> None:
    """Send the file's chunks to ``batches`` in lists of about :data:`READ_BATCH_BYTES`, then
    close it. Returns early once the receiving side is gone (the sender stopped: nothing more
    to read for); a file that fails mid-stream raises :class:`AudioError`."""
    chunks = iter_chunks(path, plan, chunk_ms)
    chunk_bytes = plan.chunk_frames(chunk_ms) * plan.bytes_per_sample
    per_batch = max(1, READ_BATCH_BYTES // chunk_bytes)
    try:
        async with batches:
            while batch := await anyio.to_thread.run_sync(
                _take, chunks, per_batch, abandon_on_cancel=True
            ):
                await batches.send(batch)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        return
    finally:
        # still running in an abandoned thread: that thread's last reference closes it
        with suppress(ValueError):
            chunks.close()


__all__ = ["READ_BATCH_BYTES", "read_ahead"]
