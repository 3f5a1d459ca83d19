"""Fixtures of the client tests: the bundled local server and tone files with known text."""

from __future__ import annotations

from pathlib import Path

import pytest
from clientkit import TURNS

from jobrunner.server.tones import write_wav


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    """A 16 kHz PCM_16 WAV whose tones-engine transcript is :data:`EXPECTED`."""
    return write_wav(tmp_path / "call.wav", TURNS)
