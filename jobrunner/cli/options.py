"""Click options that several commands share, written once (as sqlite-utils shares its
``output_options``): the same flag reads and behaves the same in every command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from jobrunner.store import STATES

F = TypeVar("F", bound=Callable[..., Any])


def job_filters(*, states: bool = True) -> Callable[[F], F]:
    """``--state STATE`` (repeatable; the ``states`` parameter, a tuple, empty = every state)
    and ``--label NAME`` (the ``label`` parameter): which jobs a command works on.
    ``states=False`` for commands that choose states with their own flags (retry, cancel)."""

    def decorate(fn: F) -> F:
        if states:
            fn = click.option(
                "--state",
                "states",
                multiple=True,
                type=click.Choice([s.value for s in STATES]),
                help="Only jobs in this state (repeatable; default: every state).",
            )(fn)
        return click.option("--label", metavar="NAME", help="Only jobs with this label.")(fn)

    return decorate


def progress_option(fn: F) -> F:
    """``--progress/--no-progress`` (the ``progress`` parameter: ``None`` = only when stderr
    is a terminal)."""
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Live progress on stderr (default: only when stderr is a terminal).",
    )(fn)
