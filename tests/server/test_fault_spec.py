"""--faults specs: syntax, and decisions that depend on the seed and connection number only."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from jobrunner.errors import UsageError
from jobrunner.server.faults import Fault, FaultInjector, parse_faults


def test_parse_every_kind() -> None:
    spec = parse_faults(
        "upgrade_503=0.2, upgrade_429=first:3, drop@1.5=0.1, error_500=first:1, "
        "error_400@2=0.05, stall=0.1, stall@0=0.5, slow_drain@3=0.2, slow_drain=1, limit=5"
    )
    assert [r.fault for r in spec.rules] == [
        Fault("upgrade", status=503),
        Fault("upgrade", status=429),
        Fault("drop", at_s=1.5),
        Fault("error", status=500, at_s=0.5),
        Fault("error", status=400, at_s=2.0),
        Fault("stall"),
        Fault("stall", at_s=0.0),
        Fault("slow_drain", delay_s=3.0),
        Fault("slow_drain", delay_s=2.0),
    ]
    assert spec.rules[1].first == 3 and spec.rules[1].probability is None
    assert spec.rules[0].probability == 0.2
    assert spec.limit == 5


@pytest.mark.parametrize(
    "bad",
    [
        "explode=0.1",
        "drop",
        "drop=1.5",
        "upgrade_200=0.1",
        "upgrade_503@1=0.1",
        "error_999=1",
        "limit=x",
        "drop=first:",
        "stall=-0.1",
    ],
)
def test_bad_specs_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--faults"):
        parse_faults(bad)


def test_empty_spec_means_no_faults() -> None:
    assert not parse_faults("") and not parse_faults(None)
    injector = FaultInjector(parse_faults(None))
    assert all(injector.for_upgrade(n) is None for n in range(1, 50))


def test_first_n_counts_connections_that_reach_the_rule() -> None:
    injector = FaultInjector(parse_faults("upgrade_429=first:1,drop=first:2"))
    # connection 1 is refused on the upgrade, so it never reaches the session rule
    assert injector.for_upgrade(1) == Fault("upgrade", status=429)
    assert injector.for_upgrade(2) is None
    assert injector.for_session(2) == Fault("drop", at_s=0.5)
    assert injector.for_upgrade(3) is None
    assert injector.for_session(3) == Fault("drop", at_s=0.5)
    assert injector.for_upgrade(4) is None and injector.for_session(4) is None
    assert injector.injected == {"upgrade_429": 1, "drop": 2}


def test_probabilities_are_reproducible_per_seed_and_connection() -> None:
    def fates(seed: int, order: Iterable[int] = range(1, 201)) -> dict[int, bool]:
        injector = FaultInjector(parse_faults("upgrade_503=0.3"), seed=seed)
        return {n: injector.for_upgrade(n) is not None for n in order}

    forward = fates(1)
    # a connection's fate is its own: not a draw from a stream that earlier calls advanced
    assert fates(1, reversed(range(1, 201))) == forward
    assert fates(1, range(101, 201)) == {n: forward[n] for n in range(101, 201)}
    assert fates(2) != forward
    assert 40 <= sum(forward.values()) <= 80  # about 30 % of 200


def test_limit_caps_the_total() -> None:
    injector = FaultInjector(parse_faults("upgrade_503=1.0,error_500=1.0,limit=3"))
    upgrades = [injector.for_upgrade(n) for n in range(1, 6)]
    assert sum(f is not None for f in upgrades) == 3
    assert injector.for_session(6) is None
    assert injector.total == 3
