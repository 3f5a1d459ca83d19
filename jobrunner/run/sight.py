"""Can this machine see the queue's files? The rule that stops a worker that cannot.

A missing or unreadable file fails its attempt and is retried later (it may be back). But a
worker on a machine without the mount, or whose share went away, finds *every* file missing:
retrying would burn through the attempt budgets of the whole queue, on a machine that was never
going to see them, while a worker that can see them waits. So the run keeps the last
:attr:`SightRule.window` files it tried to open, and when :attr:`SightRule.missing` of them were
missing or unreadable it stops (exit 2), naming the folder they share; the jobs stay queued for
a worker that can see them (their failed attempts count, as for any retryable failure).

:func:`cannot_see` is a pure function of what the run saw; :class:`Sight` only holds that.
A window, not a streak, so one file that happens to be there does not reset the count, and a
queue where some files were deleted but most are there never stops a run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobrunner.errors import ConfigError


@dataclass(frozen=True)
class SightRule:
    """Stop once ``missing`` of the last ``window`` files tried could not be opened."""

    window: int = 10
    missing: int = 9


def common_folder(paths: list[str]) -> str:
    """The deepest folder holding every one of ``paths``."""
    return os.path.commonpath([os.path.dirname(p) or "." for p in paths])


def cannot_see(rule: SightRule, recent: tuple[tuple[str, bool], ...]) -> ConfigError | None:
    """The error a run stops with, given the files it tried last, oldest first, as ``(path,
    missing)``; ``None`` while too few of them were missing."""
    tried = recent[-rule.window :]
    missing = [path for path, gone in tried if gone]
    if len(missing) < rule.missing:
        return None
    return ConfigError(
        f"this machine cannot see {common_folder(missing)}: {len(missing)} of the {len(tried)} "
        "files it tried last were missing or unreadable; the jobs stay queued (mount the "
        "folder or run where it is mounted; cancel the jobs of files that are gone for good)"
    )


class Sight:
    """The files a run tried to open, as :func:`cannot_see` needs them."""

    def __init__(self, rule: SightRule | None = None) -> None:
        self.rule = rule or SightRule()
        self._recent: tuple[tuple[str, bool], ...] = ()

    def saw(self, path: str, missing: bool) -> ConfigError | None:
        """Note one file tried; the error to stop the run with, if this machine is blind."""
        self._recent = (*self._recent, (path, missing))[-self.rule.window :]
        return cannot_see(self.rule, self._recent)


__all__ = ["Sight", "SightRule", "cannot_see", "common_folder"]
