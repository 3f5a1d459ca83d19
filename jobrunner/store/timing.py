"""How the store's statements tell the time: the store's clock, or the database server's.

A statement reads ``now`` and deadlines (``now + seconds``) from a :class:`Timing`:

* :data:`BOUND`: bound values from the store's clock (``:now``, and ``:expires``-style
  deadlines computed in Python). SQLite (one machine, one clock), and any store given a clock
  to judge by (the tests' hand-cranked clock);
* :data:`SERVER`: PostgreSQL's ``CURRENT_TIMESTAMP`` and ``CURRENT_TIMESTAMP + :expires_s`` (an
  interval). Machines on one queue judge each other's leases, so they must read one clock, and
  read it at every statement: an offset measured once drifts away with the first NTP step or VM
  resume, and the reaper of a machine whose clock jumped ahead would expire live leases
  elsewhere. ``CURRENT_TIMESTAMP`` is the start of the transaction: one verb sees one instant,
  as with a bound ``:now``.

Verbs pass the parameters of both (:func:`clock_params`); a statement uses those its timing
names and the driver ignores the rest.
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
    server: bool

    def later(self, name: str) -> sa.ColumnElement[datetime]:
        """A deadline: bound as ``:name``, or on the server ``now + :name_s`` (an interval)."""
        if self.server:
            return self.now + sa.bindparam(f"{name}_s", type_=sa.Interval())
        return sa.bindparam(name, type_=UTCDateTime())


#: the store's clock
BOUND = Timing(sa.bindparam("now", type_=UTCDateTime()), server=False)
#: the PostgreSQL server's clock, read inside each statement
SERVER = Timing(sa.func.current_timestamp(type_=UTCDateTime()), server=True)


def clock_params(now: datetime, **deadlines: float) -> dict[str, Any]:
    """``now`` and each deadline (seconds after ``now``) as the parameters of both timings."""
    params: dict[str, Any] = {"now": now}
    for name, seconds in deadlines.items():
        params[name] = now + timedelta(seconds=seconds)
        params[f"{name}_s"] = timedelta(seconds=seconds)
    return params
