"""The turn state machine: JSON text in, turns and the joined transcript out. No sockets."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobrunner.errors import (
    ProtocolViolationError,
    RequestRejectedError,
    ServerErrorEvent,
)
from jobrunner.protocol.events import parse_server_event
from jobrunner.protocol.turns import Turn, TurnSession, TurnState

RID = "0b6c2f3e-4a57-4f0e-9d0a-6c1f2b3a4d5e"


def frame(kind: str, transcript: str | None = None, **extra: Any) -> str:
    data: dict[str, Any] = {"type": kind, "request_id": RID, **extra}
    if transcript is not None:
        data["transcript"] = transcript
    return json.dumps(data)


def feed(session: TurnSession, frames: list[str], *, step: float = 0.1) -> list[Turn]:
    """Feed frames as if one arrived every ``step`` seconds of audio and of wall time."""
    done = []
    for i, text in enumerate(frames):
        turn = session.receive(parse_server_event(text), audio_s=i * step, at=100.0 + i * step)
        if turn is not None:
            done.append(turn)
    return done


def test_cumulative_updates_are_not_duplicated() -> None:
    session = TurnSession()
    turns = feed(
        session,
        [
            frame("connected"),
            frame("turn.start"),
            frame("turn.update", "Hello"),
            frame("turn.update", "Hello"),
            frame("turn.update", "Hello there,"),
            frame("turn.update", "Hello there, how are"),
            frame("turn.end", "Hello there, how are you?"),
            frame("turn.start"),
            frame("turn.update", " Fine"),
            frame("turn.end", " Fine, thanks."),
        ],
    )
    assert [t.transcript for t in turns] == ["Hello there, how are you?", " Fine, thanks."]
    assert session.transcript == "Hello there, how are you? Fine, thanks."
    assert session.request_id == RID and session.connected
    assert session.state is TurnState.IDLE and session.current_text == ""
    first = turns[0]
    assert (first.index, first.updates, first.eager_ends, first.resumes, first.revisions) == (
        0,
        4,
        0,
        0,
        0,
    )


def test_timings_are_recorded_per_turn() -> None:
    session = TurnSession()
    feed(
        session,
        [
            frame("connected"),  # 0.0
            frame("turn.start"),  # 0.1
            frame("turn.update", " a"),  # 0.2
            frame("turn.update", " a b"),  # 0.3
            frame("turn.eager_end", " a b"),  # 0.4
            frame("turn.resume"),  # 0.5
            frame("turn.eager_end", " a b c"),  # 0.6
            frame("turn.end", " a b c."),  # 0.7
        ],
    )
    (turn,) = session.turns
    assert turn.start_audio_s == pytest.approx(0.1) and turn.start_at == pytest.approx(100.1)
    assert turn.first_update_audio_s == pytest.approx(0.2)
    assert turn.first_update_at == pytest.approx(100.2)
    # the eager end that turn.end confirmed, not the one that was resumed
    assert turn.eager_end_audio_s == pytest.approx(0.6)
    assert turn.eager_end_at == pytest.approx(100.6)
    assert turn.end_audio_s == pytest.approx(0.7) and turn.end_at == pytest.approx(100.7)
    assert (turn.updates, turn.eager_ends, turn.resumes) == (2, 2, 1)


def test_eager_end_then_resume_then_end() -> None:
    session = TurnSession()
    feed(session, [frame("turn.start"), frame("turn.update", " I think")])
    feed(session, [frame("turn.eager_end", " I think")])
    assert (session.state, session.current_text) == (TurnState.EAGER, " I think")
    feed(session, [frame("turn.resume")])
    assert session.state is TurnState.SPEAKING
    feed(session, [frame("turn.update", " I think so"), frame("turn.end", " I think so.")])
    assert session.transcript == " I think so."


def test_update_while_eager_keeps_the_state() -> None:
    session = TurnSession()
    feed(
        session, [frame("turn.start"), frame("turn.eager_end", " ok"), frame("turn.update", " ok.")]
    )
    assert session.state is TurnState.EAGER
    assert session.current_text == " ok."
    feed(session, [frame("turn.end", " ok.")])
    assert session.transcript == " ok."


def test_empty_turns_stay_empty_and_spaces_are_untouched() -> None:
    session = TurnSession()
    turns = feed(
        session,
        [
            frame("turn.start"),
            frame("turn.end", ""),
            frame("turn.start"),
            frame("turn.end", "  two spaces  "),
            frame("turn.start"),
            frame("turn.update", ""),
            frame("turn.end", ""),
            frame("turn.start"),
            frame("turn.end", "\tend\n"),
        ],
    )
    assert [t.transcript for t in turns] == ["", "  two spaces  ", "", "\tend\n"]
    assert [t.index for t in turns] == [0, 1, 2, 3]
    assert session.transcript == "  two spaces  \tend\n"


def test_non_extending_update_is_tolerated_and_counted() -> None:
    session = TurnSession()
    (turn,) = feed(
        session,
        [
            frame("turn.start"),
            frame("turn.update", " their going"),
            frame("turn.update", " they're going"),
            frame("turn.end", " they're going."),
        ],
    )
    assert turn.revisions == 1
    assert session.transcript == " they're going."


@pytest.mark.parametrize(
    ("frames", "event", "state"),
    [
        ([frame("turn.update", "x")], "turn.update", "idle"),
        ([frame("turn.end", "x")], "turn.end", "idle"),
        ([frame("turn.resume")], "turn.resume", "idle"),
        ([frame("turn.eager_end", "x")], "turn.eager_end", "idle"),
        ([frame("turn.start"), frame("turn.start")], "turn.start", "speaking"),
        ([frame("turn.start"), frame("turn.resume")], "turn.resume", "speaking"),
        (
            [frame("turn.start"), frame("turn.eager_end", ""), frame("turn.eager_end", "")],
            "turn.eager_end",
            "eager",
        ),
        (
            [frame("turn.start"), frame("turn.eager_end", ""), frame("turn.start")],
            "turn.start",
            "eager",
        ),
    ],
)
def test_illegal_sequences_name_the_event_and_state(
    frames: list[str], event: str, state: str
) -> None:
    session = TurnSession()
    with pytest.raises(ProtocolViolationError, match=rf"{event} in state {state}") as info:
        feed(session, frames)
    assert info.value.retryable
    assert info.value.request_id == RID


def test_connected_must_come_first_and_once() -> None:
    session = TurnSession()
    feed(session, [frame("connected")])
    with pytest.raises(ProtocolViolationError, match="connected"):
        feed(session, [frame("connected")])
    late = TurnSession()
    with pytest.raises(ProtocolViolationError, match="connected not as the first event"):
        feed(late, [frame("turn.start"), frame("connected")])


def test_connected_is_optional() -> None:
    session = TurnSession()
    feed(session, [frame("turn.start"), frame("turn.end", " hi")])
    assert not session.connected
    assert session.transcript == " hi"


def test_unknown_events_are_kept_and_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    session = TurnSession()
    with caplog.at_level(logging.WARNING, logger="jobrunner.protocol.turns"):
        feed(
            session,
            [
                frame("connected"),
                frame("turn.start"),
                frame("turn.metrics", latency_ms=12),
                frame("turn.metrics", latency_ms=13),
                frame("turn.end", " ok"),
            ],
        )
    assert [e.data["latency_ms"] for e in session.unknown] == [12, 13]
    assert session.unknown_count == 2
    assert session.transcript == " ok"
    assert sum("turn.metrics" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("error", "cls", "retryable", "status"),
    [
        (
            {"message": "bad encoding", "status_code": 400, "title": "Bad Request"},
            RequestRejectedError,
            False,
            400,
        ),
        ({"message": "slow down", "code": 429}, RequestRejectedError, False, 429),
        ({"message": "overloaded", "status_code": 500}, ServerErrorEvent, True, 500),
        ({"error": "mystery"}, ServerErrorEvent, True, None),
    ],
)
def test_error_events_map_to_the_exception_tree(
    error: dict[str, Any], cls: type[ServerErrorEvent], retryable: bool, status: int | None
) -> None:
    session = TurnSession()
    feed(session, [frame("connected"), frame("turn.start"), frame("turn.update", " a")])
    with pytest.raises(ServerErrorEvent) as info:
        feed(session, [json.dumps({"type": "error", **error})])
    exc = info.value
    assert type(exc) is cls
    assert exc.retryable is retryable
    assert exc.http_status == status
    assert exc.request_id == RID
    message = error.get("message") or error.get("error")
    assert isinstance(message, str) and message in str(exc)
    # terminal: nothing after it is accepted
    with pytest.raises(ProtocolViolationError, match="after an error"):
        feed(session, [frame("turn.end", " a")])


def test_finish_drops_an_empty_open_turn() -> None:
    quiet = TurnSession()
    feed(quiet, [frame("turn.start"), frame("turn.end", " done"), frame("turn.start")])
    assert quiet.finish(audio_s=3.0, at=200.0) is None
    assert quiet.transcript == " done" and quiet.state is TurnState.IDLE
    assert [t.ended_by for t in quiet.turns] == ["turn.end"]
    assert quiet.ended_by_close == 0


def test_finish_keeps_the_last_text_of_a_turn_cut_off_by_the_close() -> None:
    cut = TurnSession()
    feed(
        cut,
        [
            frame("turn.start"),
            frame("turn.end", "First."),
            frame("turn.start"),
            frame("turn.update", " last"),
            frame("turn.eager_end", " last words"),
        ],
    )
    turn = cut.finish(audio_s=3.0, at=200.0)
    assert turn is not None and turn is cut.turns[-1]
    assert (turn.index, turn.transcript, turn.ended_by) == (1, " last words", "close")
    assert (turn.end_audio_s, turn.end_at) == (3.0, 200.0)
    assert turn.eager_ends == 1 and turn.updates == 1
    # joins the transcript verbatim, like any turn.end text
    assert cut.transcript == "First. last words"
    assert [t.ended_by for t in cut.turns] == ["turn.end", "close"]
    assert cut.ended_by_close == 1
    assert cut.state is TurnState.IDLE and cut.open_turn is None and cut.current_text == ""


# --- properties ---------------------------------------------------------------------------

# Hypothesis builds its unicode tables on first use (a clean checkout, CI): that one-off cost
# must not trip the speed health check on a busy 2-core machine.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def turn_scripts(draw: st.DrawFn) -> list[tuple[list[str], str, bool]]:
    """Each turn: its cumulative update texts (prefixes of the final), final text, eager flag."""
    scripts = []
    for _ in range(draw(st.integers(0, 6))):
        final = draw(st.text(max_size=40))
        cuts = sorted(draw(st.lists(st.integers(0, len(final)), max_size=5)))
        scripts.append(([final[:c] for c in cuts], final, draw(st.booleans())))
    return scripts


@relaxed
@given(turn_scripts())
def test_joined_transcript_is_exactly_the_turn_end_texts(
    scripts: list[tuple[list[str], str, bool]],
) -> None:
    session = TurnSession()
    frames = [frame("connected")]
    for updates, final, eager in scripts:
        frames.append(frame("turn.start"))
        frames.extend(frame("turn.update", u) for u in updates)
        if eager:
            frames += [frame("turn.eager_end", final), frame("turn.resume")]
        frames.append(frame("turn.end", final))
    turns = feed(session, frames)
    assert session.transcript == "".join(final for _, final, _ in scripts)
    assert [t.transcript for t in turns] == [final for _, final, _ in scripts]
    assert [t.updates for t in turns] == [len(u) for u, _, _ in scripts]
    assert all(t.revisions == 0 for t in turns)


@relaxed
@given(st.lists(texts, max_size=8))
def test_any_unicode_and_whitespace_survives_verbatim(finals: list[str]) -> None:
    session = TurnSession()
    for text in finals:
        feed(session, [frame("turn.start"), frame("turn.end", text)])
    assert session.transcript == "".join(finals)
