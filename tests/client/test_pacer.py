"""The realtime schedule, driven by a fake clock: the send loop a client would run, minus sleep."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest

from jobrunner.client.pacer import Pacer
from jobrunner.errors import ConfigError


class FakeClock:
    """Monotonic time that only moves when the simulated loop sleeps or stalls."""

    def __init__(self, start: float = 1000.0, oversleep: float = 0.0) -> None:
        self.now = start
        self.oversleep = oversleep  # how late every wake-up is, like a busy event loop

    def sleep_until(self, deadline: float) -> None:
        if deadline > self.now:
            self.now = deadline + self.oversleep


def chunks(total_samples: int, chunk_samples: int, rate: int) -> Iterator[tuple[float, float]]:
    """(offset, length) in seconds, from sample counts like the audio streamer does."""
    for first in range(0, total_samples, chunk_samples):
        n = min(chunk_samples, total_samples - first)
        yield first / rate, n / rate


def run(
    pacer: Pacer,
    clock: FakeClock,
    plan: Iterator[tuple[float, float]],
    *,
    send_cost: Callable[[int], float] = lambda k: 0.0,
) -> list[float]:
    """Sleep until due, 'send' (costing send_cost(k) seconds), record. Returns the send times."""
    pacer.start(clock.now)
    times = []
    for k, (offset, length) in enumerate(plan):
        clock.sleep_until(pacer.due(offset))
        times.append(clock.now)
        pacer.sent(offset, length, clock.now)
        clock.now += send_cost(k)
    clock.sleep_until(pacer.close_due())
    pacer.closed(clock.now)
    return times


def test_no_drift_over_10000_chunks() -> None:
    clock = FakeClock(oversleep=0.002)
    pacer = Pacer()
    # every wake-up is 2 ms late and every send takes 4 ms: 6 ms per chunk that a schedule
    # built by adding intervals would accumulate into 60 s over 10,000 chunks
    times = run(pacer, clock, chunks(10_000 * 1600, 1600, 16000), send_cost=lambda k: 0.004)
    t0 = 1000.0
    assert times[-1] == pytest.approx(t0 + 9_999 * 0.1 + 0.002, abs=1e-6)
    assert max(abs(t - (t0 + k * 0.1)) for k, t in enumerate(times)) <= 0.002 + 1e-6
    stats = pacer.stats()
    assert stats.chunks == 10_000
    assert stats.audio_s == pytest.approx(1000.0)
    assert stats.wall_s == pytest.approx(1000.002)
    assert stats.mean_rate == pytest.approx(1.0, abs=1e-5)
    assert stats.max_lead_s == pytest.approx(0.1)  # one chunk ahead, never more
    assert stats.p50_lateness_s == pytest.approx(0.002, abs=1e-6)
    assert stats.p99_lateness_s == pytest.approx(0.002, abs=1e-6)


def test_stall_is_recovered_without_moving_the_schedule() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer()
    stall_at, stall_s = 50, 1.05  # chunk 50's send blocks for 1.05 s (e.g. a GC pause)
    times = run(
        pacer,
        clock,
        chunks(200 * 800, 800, 8000),
        send_cost=lambda k: stall_s if k == stall_at else 0.0,
    )
    # chunks 51..60 were overdue: they go out at once, back to back
    assert all(t == pytest.approx(stall_at * 0.1 + stall_s) for t in times[51:61])
    # from chunk 61 on the original schedule holds exactly: nothing was carried over
    assert all(t == pytest.approx(k * 0.1) for k, t in enumerate(times) if k > 60 or k <= 50)
    stats = pacer.stats()
    assert stats.max_lateness_s == pytest.approx(stall_s - 0.1, abs=1e-5)
    assert stats.p50_lateness_s == 0.0
    assert stats.p99_lateness_s == pytest.approx(0.75, abs=1e-5)  # rank 198 of 200: chunk 53
    assert stats.wall_s == pytest.approx(20.0)
    assert stats.mean_rate == pytest.approx(1.0)


def test_last_partial_chunk_is_paced_and_close_waits_for_its_audio() -> None:
    clock = FakeClock(10.0)
    pacer = Pacer()
    plan = list(chunks(16000 * 2 + 4000, 1600, 16000))  # 2.25 s: 22 full chunks + 50 ms
    assert plan[-1][0] == pytest.approx(2.2) and plan[-1][1] == pytest.approx(0.05)
    times = run(pacer, clock, iter(plan))
    assert times[-1] == pytest.approx(10.0 + 2.2)
    assert pacer.close_due() == pytest.approx(10.0 + 2.25)
    assert clock.now == pytest.approx(12.25)  # close sent when the last sample is due
    stats = pacer.stats()
    assert stats.chunks == 23 and stats.audio_s == pytest.approx(2.25)
    assert stats.mean_rate == pytest.approx(1.0)


def test_pace_two_halves_the_schedule() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(pace=2.0)
    times = run(pacer, clock, chunks(100 * 1600, 1600, 16000))
    assert times[10] == pytest.approx(0.5)
    assert times[-1] == pytest.approx(99 * 0.05)
    stats = pacer.stats()
    assert stats.wall_s == pytest.approx(5.0)
    assert stats.mean_rate == pytest.approx(2.0)
    # audio sent runs ahead of realtime: 9.9 s sent at wall 4.95 s
    assert stats.max_lead_s == pytest.approx(10.0 - 4.95)


def test_early_sends_count_as_lead_not_negative_lateness() -> None:
    pacer = Pacer()
    pacer.start(0.0)
    for k in range(10):  # a client that ignores due() and bursts everything at t=0
        pacer.sent(k * 0.1, 0.1, 0.0)
    stats = pacer.stats()
    assert stats.max_lead_s == pytest.approx(1.0)
    assert stats.p99_lateness_s == 0.0
    assert stats.wall_s == 0.0 and stats.mean_rate == 0.0


def test_empty_stream_and_misuse() -> None:
    pacer = Pacer()
    with pytest.raises(RuntimeError, match="start"):
        pacer.due(0.0)
    stats = pacer.stats()
    assert (stats.chunks, stats.audio_s, stats.p99_lateness_s) == (0, 0.0, 0.0)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ConfigError, match="pace"):
            Pacer(bad)
