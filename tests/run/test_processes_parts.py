"""The pure parts of ``run --processes``: how many processes, the shares, the one limit's
slots, merged figures, errors across the channel."""

from __future__ import annotations

import pytest

from jobrunner.config import Settings
from jobrunner.errors import AudioError, AuthenticationError, ConfigError, SessionFacts
from jobrunner.run import Counts, LeaseWait, RunSnapshot
from jobrunner.run.concurrency import AdaptiveLimit
from jobrunner.run.multi.channel import pack_error, unpack_error
from jobrunner.run.multi.merge import merge_counts, merge_snapshots
from jobrunner.run.multi.permits import PermitBroker
from jobrunner.run.multi.plan import AUTO_MIN_SESSIONS, processes_for, split


def test_auto_is_one_process_below_the_knee_and_one_per_core_above() -> None:
    assert processes_for("auto", AUTO_MIN_SESSIONS - 1, available=2) == 1
    assert processes_for("auto", AUTO_MIN_SESSIONS, available=2) == 2
    assert processes_for("3", 8) == 3
    assert processes_for("4", 2) == 2  # never more processes than sessions
    with pytest.raises(ConfigError):
        Settings(processes="0")
    with pytest.raises(ConfigError):
        Settings(processes="many")


def test_split_is_as_even_as_possible() -> None:
    assert split(9, 2) == [5, 4]
    assert split(1000, 3) == [334, 333, 333]
    assert sum(split(7, 7)) == 7 and set(split(7, 7)) == {1}


def test_slots_never_exceed_the_one_limit_and_a_429_revokes_none() -> None:
    now = [0.0]
    limit = AdaptiveLimit(8, clock=lambda: now[0])
    broker = PermitBroker(limit, 2)
    broker.want(0, 4)
    broker.want(1, 4)
    assert broker.grants() == {0: 1}  # the probe: one session over all processes
    limit.connected()
    assert broker.grants() == {1: 4, 0: 3} or broker.out == 8
    assert broker.out == 8
    limit.rate_limited()  # 8 -> 4: running sessions finish, nothing is granted until < 4
    broker.release(0, 3)
    broker.want(0, 3)
    assert broker.grants() == {} and broker.out == 5
    broker.release(1, 2)
    assert broker.grants() == {0: 1} and broker.out == 4
    broker.gone(1)  # a worker process died: its slots are free again
    assert broker.out == 2 and broker.grants() == {0: 2}


def test_merged_counts_add_up_and_the_queue_estimate_is_the_lowest() -> None:
    a = Counts(claimed=3, succeeded=2, queued=10, queued_audio_s=50.0, done_audio_s=4.0)
    b = Counts(claimed=1, failed=1, queued=8, queued_audio_s=40.0, done_audio_s=2.0)
    merged = merge_counts([a, b])
    assert (merged.claimed, merged.succeeded, merged.failed) == (4, 2, 1)
    assert (merged.queued, merged.queued_audio_s, merged.done_audio_s) == (8, 40.0, 6.0)


def test_a_merged_snapshot_does_not_wait_for_its_own_processes() -> None:
    def part(waiting: tuple[LeaseWait, ...]) -> RunSnapshot:
        return RunSnapshot.of(
            Counts(), elapsed_s=1.0, running=[(10.0, 1.0)], limit=4, ceiling=4, pace=1.0,
            stopping=False, waiting=waiting,
        )  # fmt: skip

    sibling, other = LeaseWait("vm:1234", 2, 5.0), LeaseWait("host-b:99", 1, 30.0)
    merged = merge_snapshots(
        [part((sibling, other)), part(())], elapsed_s=2.0, limit=3, ceiling=8, pace=1.0,
        siblings=[1234, 1235],
    )  # fmt: skip
    assert merged.waiting == (other,)
    assert (merged.running, merged.limit, merged.ceiling) == (2, 3, 8)


def test_errors_cross_the_channel_with_their_class_and_fields() -> None:
    audio = unpack_error(pack_error(AudioError("/a.wav", "not audio")))
    assert (
        isinstance(audio, AudioError)
        and audio.path == "/a.wav"
        and str(audio) == ("/a.wav: not audio")
    )
    auth = AuthenticationError("401 Unauthorized", http_status=401, facts=SessionFacts())
    back = unpack_error(pack_error(auth))
    assert isinstance(back, AuthenticationError) and back.exit_code == 3 and back.http_status == 401
    assert str(back) == str(auth)
