"""What one candidate file is: probed, hashed and given its idempotency key.

Bad input never raises here: a file that cannot be streamed comes back with a one-line reason
and becomes an ``invalid`` job, so one broken recording never stops a batch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from jobrunner.audio.probe import AudioInfo, probe, sha256_file
from jobrunner.enqueue.discover import storable
from jobrunner.errors import AudioError


@dataclass(frozen=True)
class Inspected:
    path: str  # storable(): what the job records
    info: AudioInfo | None  # None: the file cannot be streamed (see reason)
    sha256: str | None
    reason: str | None
    size_bytes: int | None = None
    mtime_ns: int | None = None


def inspect_file(path: str) -> Inspected:
    """Probe and hash one file; never raises for a bad file (the reason is returned). ``path``
    is as the OS gave it; the result holds it (and the reason) as :func:`storable` text."""
    try:
        info: AudioInfo | None = probe(path)
        reason = None
    except AudioError as exc:
        info, reason = None, exc.reason
    digest = size = mtime = None
    if info is not None or os.path.isfile(path):
        try:
            # stat before hashing: a file written meanwhile then looks changed at run time
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime_ns
            digest = sha256_file(path)
        except (AudioError, OSError) as exc:
            info, reason = None, reason or getattr(exc, "reason", str(exc))
    why = None if reason is None else storable(reason)
    return Inspected(storable(path), info, digest, why, size, mtime)


def idempotency_key(fingerprint: str, sha256: str | None, path: str, valid: bool) -> str:
    """Content hash + result-changing settings for a valid file: the same audio with the same
    settings is a duplicate wherever it lives. An unusable file is unusable whatever the
    settings: one invalid job per path and content, so fixing the file makes a new job."""
    if valid and sha256 is not None:
        return f"{sha256}:{fingerprint}"
    marker = hashlib.sha256(f"{path}\0{sha256 or ''}".encode()).hexdigest()
    return f"invalid:{marker}"
