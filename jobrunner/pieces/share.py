"""How many pieces a job becomes: its sessions (channels) times its time slices.

The one rule both ``run`` (:mod:`jobrunner.run.splitting`, at claim time, with the sessions
busy then) and ``estimate`` (:mod:`jobrunner.pieces.estimate`, at the start of a run) follow,
so the estimate predicts the pieces the run cuts.

Time slices: a job longer than ``split_min_s`` fills the sessions that would otherwise idle:
of the run's sessions, those not streaming and not needed by the claimable rows that are not
long jobs themselves, shared equally between this job and the other long ones
(:func:`share_of`). Each slice is at least ``split_min_s / 2`` long (:data:`MIN_PIECE_SHARE`):
that floor keeps a piece's fixed costs (a connect, the lead-in silence, the drain) under 2 %
of its audio and never cuts a file barely over the threshold into slivers.

Channels: ``split`` makes a multichannel file one session per channel, ``auto`` when
:func:`jobrunner.audio.channels.channels_differ` says its channels carry different voices,
``downmix`` one session over the downmix.
"""

from __future__ import annotations

from typing import Final

from jobrunner.audio.channels import channels_differ
from jobrunner.errors import AudioError

#: a time slice is at least this share of ``split_min_s`` long
MIN_PIECE_SHARE: Final = 0.5


def share_of(sessions: int, busy: int, queued: int, long_queued: int) -> int:
    """Sessions a long job may fill with its pieces: of ``sessions``, those not ``busy``
    streaming and not needed by the ``queued`` claimable rows other than the ``long_queued``
    jobs (themselves candidates for a split), shared equally with those."""
    idle = sessions - busy - (queued - long_queued)
    return max(1, idle // (1 + long_queued))


def time_slices(duration_s: float, share: int, split_min_s: float) -> int:
    """How many time slices of a ``duration_s`` file fill ``share`` sessions (per channel),
    each at least the floor long; 1 for a file not over ``split_min_s``."""
    if share <= 1 or duration_s <= split_min_s:
        return 1
    return max(1, min(share, int(duration_s // (split_min_s * MIN_PIECE_SHARE))))


def splits_channels(path: str, channels: int, mode: str) -> bool:
    """Whether a ``channels``-channel file is one session per channel in channel ``mode``.
    Blocking for ``auto`` (it reads the file); a file it cannot read is downmixed (its
    stream, or the estimate's probe, then says what is wrong)."""
    if channels < 2 or mode == "downmix":
        return False
    if mode == "split":
        return True
    try:
        return channels_differ(path)
    except AudioError:
        return False


__all__ = ["MIN_PIECE_SHARE", "share_of", "splits_channels", "time_slices"]
