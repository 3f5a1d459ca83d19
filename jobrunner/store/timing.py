"""How the store's statements tell the time.

A statement reads ``now`` and deadlines (``now + seconds``) from a :class:`Timing`: bound values
from the store's clock (``:now``, and ``:expires``-style deadlines computed in Python). Verbs
build the parameters with :func:`clock_params`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from jobrunner.store.schema import UTCDateTime


@dataclass(frozen=True, eq=False)  # a SQL element's == builds SQL, it does not compare
class Timing:
    """How a statement tells the time: ``now``, and deadlines ``now + seconds``."""

    now: sa.ColumnElement[datetime]

    def later(self, name: str) -> sa.ColumnElement[datetime]:
        """A deadline, bound as ``:name``."""
        return sa.bindparam(name, type_=UTCDateTime())


#: the store's clock
BOUND = Timing(sa.bindparam("now", type_=UTCDateTime()))


def clock_params(now: datetime, **deadlines: float) -> dict[str, Any]:
    """``now`` and each deadline (seconds after ``now``) as parameters."""
    params: dict[str, Any] = {"now": now}
    for name, seconds in deadlines.items():
        params[name] = now + timedelta(seconds=seconds)
    return params
