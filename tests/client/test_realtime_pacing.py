"""The one wall-clock test: at pace 1.0 audio leaves at the speed it was spoken.

Every other client test runs at 20x with the server's overload check off. Here the check is
on (the real service's 1.25x + 1.5 s allowance), so sending too fast would fail the session.
Bounds are generous: the point is "about realtime", not a benchmark (see bench/).
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
from helpers import Serve

from jobrunner.client.auto import SessionResult, transcribe_file
from jobrunner.config import Settings
from jobrunner.server.tones import write_wav


def test_audio_is_sent_at_realtime(serve: Serve, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "two.wav", ["Hi.", " Ok"], lead_s=0.2, gap_s=0.7, tail_s=0.3)
    server = serve(max_rate=1.25, burst_s=1.5)
    settings = Settings(base_url=server.url, pace=1.0)

    async def main() -> SessionResult:
        return await transcribe_file(path, settings)

    started = time.monotonic()
    result = anyio.run(main)
    elapsed = time.monotonic() - started

    audio_s = result.plan.duration_s
    assert 1.5 < audio_s < 2.5
    assert result.transcript == "Hi. Ok"
    assert abs(result.pacing.audio_s - audio_s) < 1e-6
    assert 0.85 <= result.pacing.mean_rate <= 1.1
    assert result.pacing.max_lead_s <= 0.2  # never more than two chunks ahead of realtime
    assert elapsed >= audio_s * 0.95
    assert server.wait_idle().overload_trips == 0
