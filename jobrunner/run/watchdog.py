"""How long one session may take before its worker stops vouching for it: a pure function.

File reads run in worker threads, and a read that hangs (a hard-mounted share that stopped
answering) cannot be interrupted. Leases are renewed for every running session, so without a
limit a hung session would keep its job forever: nobody reaps a lease that is renewed. Each
session therefore gets a deadline, the most a healthy one can take::

    connect   connect_tries * open_timeout_s
              + (connect_tries - 1) * backoff_cap_s * rate_limit_factor
    stream    duration / pace
    drain     drain_timeout_s          (the drain deadline, which bounds the stall one too)
    margin    stall_timeout_s + stream / 10

The connect term is every try timing out and every wait between tries at its longest (a 429's);
the margin covers the pre-stream checks and a busy machine's pacing slip. Past the deadline the
attempt abandons the session and records a ``stalled`` failure (:class:`SessionStalledError`),
and the lease keeper stops renewing its lease, so a job whose worker cannot even record that is
reaped within a lease TTL all the same.
"""

from __future__ import annotations

from jobrunner.config import Settings


def session_budget_s(duration_s: float, settings: Settings) -> float:
    """Seconds a session of ``duration_s`` seconds of audio may take under ``settings``."""
    tries = max(1, settings.connect_tries)
    connect = tries * settings.open_timeout_s
    connect += (tries - 1) * settings.backoff_cap_s * settings.rate_limit_factor
    stream = max(0.0, duration_s) / settings.pace
    margin = settings.stall_timeout_s + stream / 10
    return connect + stream + settings.drain_timeout_s + margin


__all__ = ["session_budget_s"]
