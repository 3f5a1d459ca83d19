"""Keep what C libraries print on file descriptor 2 off the user's terminal.

libmpg123 (libsndfile's MP3 decoder) writes "Note: Illegal Audio-MPEG-Header ...", "Warning: ..."
and "[src/libmpg123/...] error: ..." straight to fd 2 while it decodes a damaged MP3, around the
one-line reason jobrunner gives; ``sys.stderr`` and logging never see it. Inside
:func:`quiet_c_stderr`, fd 2 points at a temporary file. fd 2 is one per process and probes run
in threads, so the redirection is counted under a lock: the first thread in makes it, the last one
out undoes it. What was captured is then sorted: the C library's lines go to the debug log (``-vv``
shows them), anything else (a Python warning another thread wrote meanwhile) goes to stderr as it
came, only later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

log = logging.getLogger(__name__)

#: the forms of libmpg123's own messages (its ``fprintf(stderr, ...)`` calls)
_C_NOISE = re.compile(rb"^(?:(?:Note|Warning|Error): |\[[^\]\n]*\] (?:error|warning|note): )")

_lock = threading.Lock()
_inside = 0  # threads inside quiet_c_stderr()
_saved_fd: int | None = None  # the real fd 2, while redirected
_capture: IO[bytes] | None = None


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Capture fd 2 for the duration (thread-safe; nested and concurrent uses share one capture)."""
    _enter()
    try:
        yield
    finally:
        _replay(_leave())


def _flush_python_stderr() -> None:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()  # what Python buffered belongs on the side of fd 2 it was written to


def _enter() -> None:
    global _inside, _saved_fd, _capture
    with _lock:
        _inside += 1
        if _inside > 1:
            return
        _flush_python_stderr()
        capture = tempfile.TemporaryFile()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: nothing can reach a terminal
            capture.close()
            return
        os.dup2(capture.fileno(), 2)
        _saved_fd, _capture = saved, capture


def _leave() -> bytes:
    global _inside, _saved_fd, _capture
    with _lock:
        _inside -= 1
        if _inside > 0 or _saved_fd is None or _capture is None:
            return b""
        _flush_python_stderr()
        os.dup2(_saved_fd, 2)
        os.close(_saved_fd)
        capture, _saved_fd, _capture = _capture, None, None
    with capture:
        capture.seek(0)
        return capture.read()


def _replay(captured: bytes) -> None:
    for line in captured.splitlines(keepends=True):
        if _C_NOISE.match(line):
            log.debug("C library: %s", line.decode("utf-8", "replace").rstrip())
        else:
            os.write(2, line)
