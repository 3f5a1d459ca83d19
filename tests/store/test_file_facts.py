"""What enqueue records of a file to tell, at run time, that it changed: its size and its
``st_mtime_ns``, stored exactly (nanoseconds need a 64-bit column) and handed back by a claim."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import fast_settings

from jobrunner.enqueue import enqueue_paths
from jobrunner.server.tones import write_wav
from jobrunner.store import Store


def test_a_claim_hands_back_the_size_and_mtime_enqueue_saw(store: Store, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "call.wav", ["Hello."])
    late = 4_102_444_800_123_456_789  # 2100-01-01, with every nanosecond significant
    os.utime(path, ns=(late, late))
    enqueue_paths(store, fast_settings(), [path])
    [job] = store.claim(1, "w", 30.0)
    assert (job.size_bytes, job.mtime_ns) == (path.stat().st_size, late)
