"""The rule that stops a worker that cannot see the queue's files: a pure function."""

from __future__ import annotations

from jobrunner.run.sight import Sight, SightRule, cannot_see, common_folder

RULE = SightRule(window=10, missing=9)


def tried(*missing: bool, folder: str = "/mnt/calls/2026") -> tuple[tuple[str, bool], ...]:
    return tuple((f"{folder}/day{i % 3}/call{i}.wav", gone) for i, gone in enumerate(missing))


def test_nine_of_the_last_ten_missing_stops_the_run_naming_the_common_folder() -> None:
    error = cannot_see(RULE, tried(True, True, True, False, *[True] * 6))
    assert error is not None and error.exit_code == 2
    assert str(error).startswith(
        "this machine cannot see /mnt/calls/2026: 9 of the 10 files it tried last were missing"
    )
    assert "the jobs stay queued" in str(error)


def test_a_queue_where_some_files_are_gone_keeps_running() -> None:
    assert cannot_see(RULE, tried(*[True] * 8)) is None  # not enough seen yet
    assert cannot_see(RULE, tried(*[True, False] * 10)) is None  # half there: not blindness
    assert cannot_see(RULE, tried(False, False, *[True] * 8)) is None  # 8 of the last 10


def test_only_the_last_window_counts() -> None:
    seen_first = tried(*[False] * 20, *[True] * 9)
    assert cannot_see(RULE, seen_first) is not None  # files visible long ago prove nothing now
    sight = Sight(RULE)
    verdicts = [sight.saw(path, gone) for path, gone in tried(*[True] * 7, False, True, True)]
    assert verdicts[:9] == [None] * 9
    assert verdicts[9] is not None  # the 9th missing of the last 10


def test_the_common_folder_of_files_in_several_folders() -> None:
    assert common_folder(["/mnt/a/x/1.wav", "/mnt/a/y/2.wav"]) == "/mnt/a"
    assert common_folder(["/mnt/a/1.wav"]) == "/mnt/a"
    assert common_folder(["rel/1.wav", "rel/2.wav"]) == "rel"
