"""A server that closes normally after our close while a turn is still open.

Whether the real service ever does this is unknown; if it does, failing the session would fail
every retry the same way. The bundled server always ends its turns, so a small fake of the
service (``helpers.cutting_service``) plays the part here, over a real loopback websocket.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from helpers import CUTTING_RID, cutting_service, fast_settings

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.errors import ConnectionLostError, DrainError


def run(path: Path, close_code: int, *, before_our_close: bool = False) -> SessionResult:
    # at pace 1 our close is seconds away when a service closing "before our close" closes
    settings = fast_settings(pace=1.0 if before_our_close else 20.0)

    async def main() -> SessionResult:
        async with cutting_service(close_code, before_our_close=before_our_close) as url:
            return await transcribe_file(path, settings.replace(base_url=url))

    return anyio.run(main)


def test_the_open_turn_keeps_its_last_text_and_is_marked_ended_by_the_close(
    tone_wav: Path,
) -> None:
    result = run(tone_wav, 1000)
    assert result.transcript == "Hello. Cut off"  # joined verbatim like any turn.end text
    assert [(t.transcript, t.ended_by) for t in result.turns] == [
        ("Hello.", "turn.end"),
        (" Cut off", "close"),
    ]
    assert result.turns_ended_by_close == 1
    assert (result.close_code, result.drained, result.request_id) == (1000, True, CUTTING_RID)
    cut = result.turns[1]
    assert cut.end_audio_s == pytest.approx(result.plan.duration_s, abs=1e-3)
    assert cut.end_at is not None and cut.eager_ends == 1


def test_an_abnormal_close_with_an_open_turn_still_fails_and_is_retried(tone_wav: Path) -> None:
    with pytest.raises(ConnectionLostError) as info:
        run(tone_wav, 1011)
    assert info.value.retryable and info.value.close_code == 1011
    assert info.value.facts is not None and info.value.facts.turns_discarded == 1


def test_a_normal_close_before_ours_still_fails(tone_wav: Path) -> None:
    with pytest.raises(DrainError) as info:
        run(tone_wav, 1000, before_our_close=True)
    assert info.value.retryable and "before our close" in str(info.value)
