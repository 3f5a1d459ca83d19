"""One run's figures from its worker processes' figures (plain data, no I/O).

Counters add up, except the queue estimates (``queued``, ``queued_audio_s``): every child reads
the same queue and lowers its copy only by its own claims, so the lowest copy is the closest.
The live limit and the ceiling are the parent's. Speech latencies cannot be merged from
percentiles: the merged p50/p90 are the children's, weighted by their turns (exact with one
child that aligned turns, an estimate otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from jobrunner.run.outcomes import Counts, LeaseWait, RunSnapshot, SpeechResults
from jobrunner.timing.latency import Latencies

_ESTIMATES = ("queued", "queued_audio_s")


def merge_counts(parts: Sequence[Counts]) -> Counts:
    if not parts:
        return Counts()
    values = {}
    for field in dataclasses.fields(Counts):
        each = [getattr(part, field.name) for part in parts]
        values[field.name] = min(each) if field.name in _ESTIMATES else sum(each)
    return Counts(**values)


def merge_snapshots(
    parts: Sequence[RunSnapshot],
    *,
    elapsed_s: float,
    limit: int,
    ceiling: int,
    pace: float,
    siblings: Iterable[int],
) -> RunSnapshot:
    """One snapshot for the display; the leases of ``siblings`` (the children's pids) are not
    "other workers" to wait for."""
    pids = {f":{pid}" for pid in siblings}
    waiting: dict[str, LeaseWait] = {}
    for part in parts:
        for wait in part.waiting:
            if not any(wait.holder.endswith(pid) for pid in pids):
                waiting[wait.holder] = wait
    return RunSnapshot(
        counts=merge_counts([part.counts for part in parts]),
        elapsed_s=elapsed_s,
        ceiling=ceiling,
        limit=limit,
        running=sum(part.running for part in parts),
        running_audio_s=sum(part.running_audio_s for part in parts),
        running_audio_left_s=sum(part.running_audio_left_s for part in parts),
        pace=pace,
        stopping=any(part.stopping for part in parts),
        waiting=tuple(waiting.values()),
    )


def merge_speech(parts: Sequence[SpeechResults]) -> SpeechResults:
    latencies = [part.end_latency for part in parts if part.end_latency.turns]
    turns = sum(lat.turns for lat in latencies)
    end_latency = Latencies()
    if len(latencies) == 1:
        end_latency = latencies[0]
    elif latencies:
        end_latency = Latencies(
            turns,
            sum((lat.p50_s or 0.0) * lat.turns for lat in latencies) / turns,
            sum((lat.p90_s or 0.0) * lat.turns for lat in latencies) / turns,
        )
    return SpeechResults(
        end_latency=end_latency,
        aligned=sum(part.aligned for part in parts),
        uncovered=sum(part.uncovered for part in parts),
    )


__all__ = ["merge_counts", "merge_snapshots", "merge_speech"]
