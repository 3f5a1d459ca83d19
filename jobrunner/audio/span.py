"""What part of a file one session streams; its own module so that the run can name a span
without importing the audio stack (numpy, soundfile)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """What of the file a session streams: frames ``[start_frame, end_frame)`` (``None``: to
    the end) of source ``channel`` (``None``: all channels, by the downmix policy). A piece of
    a split job (``jobrunner.pieces``) is one span; a whole file is the default."""

    start_frame: int = 0
    end_frame: int | None = None
    channel: int | None = None
