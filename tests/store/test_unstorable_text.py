"""Text the server chose always reaches the database: the store's one rule for unstorable text.

PostgreSQL refuses NUL in text; a lone surrogate (``"\\ud800"`` is valid JSON) cannot be encoded
as UTF-8, which SQLite and psycopg both need; a ``request_id`` can be longer than its column.
None of them may make a final write fail: a surrogate pair given as two code points is joined
(lossless), NUL and lone surrogates become U+FFFD, a value longer than its column is cut with
a trailing "…". The same on every backend.
"""

from __future__ import annotations

import pytest
from storekit import Clock, attempt, new_job

from jobrunner.store import JobState, Selector, Store, TurnRow

TTL = 60.0
NUL_TEXT = " a NUL\x00 here"
LONE_TEXT = " a lone \ud800 surrogate"
PAIR_TEXT = " a pair \ud83d\ude00 given as two halves"
LONG_ID = "req-" + "x" * 200


def stored(text: str) -> str:
    """What the documented rule makes of the test texts."""
    return (
        text.replace("\x00", "\ufffd")
        .replace("\ud800", "\ufffd")
        .replace("\ud83d\ude00", "\U0001f600")
    )


def claim_one(store: Store) -> int:
    [job_id] = [r.job_id for r in store.enqueue_many([new_job(1)])]
    [job] = store.claim(1, "w", TTL)
    assert job.id == job_id
    return job.attempt


def test_complete_keeps_every_turn_with_unstorable_characters_replaced(
    store: Store, clock: Clock
) -> None:
    number = claim_one(store)
    turns = [TurnRow(0, NUL_TEXT), TurnRow(1, LONE_TEXT), TurnRow(2, PAIR_TEXT)]
    transcript = NUL_TEXT + LONE_TEXT + PAIR_TEXT
    record = attempt(number, "w", clock, request_id=LONG_ID)

    store.complete(1, "w", record, turns, transcript)

    [exported] = list(store.iter_export())
    assert exported.job.state == JobState.SUCCEEDED
    assert exported.transcript == stored(transcript)
    assert [t.transcript for t in exported.turns] == [stored(t.transcript) for t in turns]
    assert exported.request_id == LONG_ID[:63] + "…"
    assert "\U0001f600" in exported.transcript  # the pair came back whole, not as two U+FFFD


def test_retry_later_records_an_unstorable_error_message(store: Store, clock: Clock) -> None:
    number = claim_one(store)
    message = "server said:" + NUL_TEXT + LONE_TEXT
    record = attempt(number, "w", clock, error_message=message, request_id=LONG_ID)

    assert store.retry_later(1, "w", record, clock()) is JobState.QUEUED

    view = store.job(1)
    assert view is not None and view.reason == stored(message)
    [recorded] = store.attempts(1)
    assert (recorded.outcome, recorded.error_message) == ("retry", stored(message))
    assert recorded.request_id == LONG_ID[:63] + "…"


def test_fail_records_an_unstorable_reason(store: Store, clock: Clock) -> None:
    number = claim_one(store)
    reason = "400:" + LONE_TEXT + NUL_TEXT

    store.fail(1, "w", attempt(number, "w", clock), reason, "rejected")

    view = store.job(1)
    assert view is not None
    assert (view.state, view.reason) == ("failed", stored(reason))
    [recorded] = store.attempts(1)
    assert recorded.error_message == stored(reason)


def test_a_path_or_label_with_a_lone_surrogate_is_stored_and_matched_by_the_same_rule(
    store: Store,
) -> None:
    undecodable = "/audio/caf\udce9.wav"  # os.fsdecode of a Latin-1 name on a UTF-8 system
    label = "r\udce9union"
    first, second = store.enqueue_many(
        [new_job(1, path=undecodable, label=label), new_job(2, label=label)]
    )
    view = store.job(first.job_id)
    assert view is not None
    assert (view.path, view.label) == ("/audio/caf\ufffd.wav", "r\ufffdunion")
    assert store.cancel(Selector(paths=(undecodable,))) == [first.job_id]
    assert [job.id for job in store.claim(5, "w", TTL, label=label)] == [second.job_id]


@pytest.mark.parametrize("text", ["", "plain", "ünïcödé ✓", "\U0001f600", "\\x00 \\ud800"])
def test_storable_text_is_kept_exactly(store: Store, clock: Clock, text: str) -> None:
    number = claim_one(store)
    store.complete(1, "w", attempt(number, "w", clock), [TurnRow(0, text)], text)
    [exported] = list(store.iter_export())
    assert exported.transcript == text and exported.turns[0].transcript == text
