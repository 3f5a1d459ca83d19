"""Naming jobs on the command line: ``JOB_ID`` or ``PATH`` arguments (``retry``, ``cancel``)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from jobrunner.enqueue import storable
from jobrunner.store import JobState, Selector


def selector(
    names: Iterable[str], *, label: str | None, states: tuple[JobState, ...] | None
) -> Selector:
    """Digits are job ids; anything else is a path, made absolute (and :func:`storable`) as
    ``enqueue`` records it."""
    ids: list[int] = []
    paths: list[str] = []
    for name in names:
        if name.isdigit():
            ids.append(int(name))
        else:
            paths.append(storable(os.path.abspath(os.path.expanduser(name))))
    return Selector(ids=tuple(ids), paths=tuple(paths), label=label, states=states)
