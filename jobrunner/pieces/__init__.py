"""Pieces: the unit of scheduling, one session over one channel and one time range of a job."""

from __future__ import annotations

from jobrunner.pieces.plan import FrameRange, plan_pieces

__all__ = ["FrameRange", "plan_pieces"]
