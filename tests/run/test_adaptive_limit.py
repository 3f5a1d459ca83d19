"""The live session limit: one probe, then AIMD between 1 and the ceiling."""

from __future__ import annotations

from jobrunner.run.concurrency import AdaptiveLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_run_probes_with_one_session_until_a_handshake_succeeds() -> None:
    limit = AdaptiveLimit(8, clock=Clock())
    assert limit.limit == 1
    assert limit.connected() and limit.limit == 8
    assert not limit.connected() and limit.limit == 8  # at the ceiling: stays


def test_429s_halve_the_limit_once_per_cooldown_never_below_one() -> None:
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock, probe=False, cooldown_s=1.0)
    assert limit.rate_limited() and limit.limit == 4
    assert not limit.rate_limited() and limit.limit == 4  # same storm
    clock.now = 1.0
    assert limit.rate_limited() and limit.limit == 2
    clock.now = 2.0
    limit.rate_limited()
    clock.now = 3.0
    assert not limit.rate_limited() and limit.limit == 1
    assert limit.lowest == 1 and limit.decreases == 3


def test_the_limit_grows_by_one_per_round_of_successful_handshakes_up_to_the_ceiling() -> None:
    limit = AdaptiveLimit(5, clock=Clock(), probe=False)
    limit.rate_limited()
    assert limit.limit == 2
    grown = [limit.limit]
    for _ in range(20):
        limit.connected()
        grown.append(limit.limit)
    # 2 successes at 2 -> 3, 3 more -> 4, 4 more -> 5, then never above the ceiling
    assert grown[2] == 3 and grown[5] == 4 and grown[9] == 5
    assert max(grown) == 5 and grown[-1] == 5
