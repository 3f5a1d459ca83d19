"""Where the Manual client sends ``finalize`` and what it sends instead of Auto's close."""

from __future__ import annotations

import pytest

from jobrunner.audio.vad import Segment
from jobrunner.client.manual import _Finalizer, finalize_points
from jobrunner.protocol.events import CLOSE_MESSAGE
from jobrunner.protocol.manual_session import ManualSession

pytestmark = pytest.mark.anyio


def test_points_are_speech_ends_plus_the_hangover_where_the_silence_allows() -> None:
    segments = [Segment(0.5, 1.8), Segment(2.0, 3.0), Segment(5.0, 6.2)]
    # 0.2 s of silence after the first: shorter than the hangover and the guard, one turn
    assert finalize_points(segments, 300) == pytest.approx([3.3, 6.5])
    assert finalize_points(segments, 0) == pytest.approx([1.8, 3.0, 6.2])
    assert finalize_points([], 300) == []


class Wire:
    def __init__(self) -> None:
        self.frames: list[bytes | str] = []

    async def send(self, data: bytes | str) -> None:
        self.frames.append(data)


async def test_finalize_goes_before_the_first_chunk_at_or_past_each_point() -> None:
    wire, session = Wire(), ManualSession()
    finalizer = _Finalizer(wire, [0.25, 0.3, 9.0], bytes_per_second=10, session=session)
    for _ in range(5):  # five chunks of 0.1 s
        await finalizer.send(b"x")
    await finalizer.send(CLOSE_MESSAGE)
    # 0.25 and 0.3 are both reached before the 4th chunk (offset 0.3); 9.0 never is: the close
    # flushes the rest
    assert wire.frames == [b"x", b"x", b"x", "finalize", b"x", b"x", "close"]
    assert session.finalizes_pending == 1 and session.closing
