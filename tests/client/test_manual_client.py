"""The Manual client over a real loopback websocket, against a scripted fake of the service:
finalize at the points, one turn per finalize, done awaited, and the failures it must not
mistake for success (no done, a dropped connection)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import fast_settings, manual_service, manual_service_seen

from jobrunner.client.manual import transcribe_manual
from jobrunner.errors import ConnectionLostError, DrainError, StallError
from jobrunner.protocol.manual_session import ManualTurn

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _fresh_record() -> None:
    manual_service_seen.clear()


async def test_one_turn_per_finalize_then_the_closes_turn(tone_wav: Path) -> None:
    async with manual_service() as url:
        settings = fast_settings(base_url=url, endpoint="manual", pace=40.0)
        result = await transcribe_manual(tone_wav, settings, points=[0.5, 1.0])
    assert manual_service_seen[0].startswith("/stt/websocket?encoding=pcm_s16le&model=ink-2")
    assert "language=en" in manual_service_seen[0]
    assert manual_service_seen[1:] == ["finalize", "finalize", "close"]
    assert result.transcript == " part1. part2. end."
    assert [t.ended_by for t in result.turns] == ["flush_done", "flush_done", "done"]
    first = result.turns[0]
    assert isinstance(first, ManualTurn) and first.updates == 1 and first.finals == 1
    assert first.words is not None and [w.word for w in first.words] == ["part1."]
    assert result.drained and result.close_code == 1000


async def test_a_done_that_never_comes_is_a_retryable_drain_failure(tone_wav: Path) -> None:
    async with manual_service(done=False) as url:
        settings = fast_settings(base_url=url, endpoint="manual", pace=40.0)
        with pytest.raises(DrainError, match="without done") as caught:
            await transcribe_manual(tone_wav, settings, points=[0.5])
    assert caught.value.retryable and caught.value.facts is not None


async def test_a_service_that_goes_silent_after_our_close_times_out_retryably(
    tone_wav: Path,
) -> None:
    async with manual_service(hang=True) as url:
        settings = fast_settings(base_url=url, endpoint="manual", pace=40.0)
        with pytest.raises((DrainError, StallError)) as caught:
            await transcribe_manual(tone_wav, settings, points=[0.5])
    assert caught.value.retryable


async def test_a_dropped_connection_fails_the_session(tone_wav: Path) -> None:
    async with manual_service(drop_after=1) as url:
        settings = fast_settings(base_url=url, endpoint="manual", pace=40.0)
        with pytest.raises(ConnectionLostError) as caught:
            await transcribe_manual(tone_wav, settings, points=[0.5, 1.0])
    assert caught.value.retryable and caught.value.close_code == 1011
    assert caught.value.facts is not None and caught.value.facts.turns_discarded == 1
