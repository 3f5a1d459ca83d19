"""The silent damage faults (``drop_text``, ``end_early``), as a client on the wire sees them:
no error, a normal close, and turns that miss what the audio said."""

from __future__ import annotations

import pytest
from helpers import Serve
from srvkit import query, run, talk, tone_bytes

from jobrunner.errors import UsageError
from jobrunner.protocol.events import TurnEagerEnd, TurnEnd, TurnResume, TurnStart, TurnUpdate
from jobrunner.server.damage import TurnDamage
from jobrunner.server.faults import Fault, parse_faults

TURNS = ["alpha beta", [" gamma", " delta"], " epsilon"]
AUDIO = tone_bytes(TURNS)  # turns start at about 0.3, 1.6 and 3.2 s


def test_the_kinds_parse_with_their_position() -> None:
    spec = parse_faults("drop_text@1.5=first:2, end_early=0.5, drop@1=0.1")
    assert [r.fault for r in spec.rules] == [
        Fault("drop_text", at_s=1.5),
        Fault("end_early", at_s=0.5),
        Fault("drop", at_s=1.0),
    ]
    with pytest.raises(UsageError, match="drop_text, end_early"):
        parse_faults("end_late=0.1")


def test_drop_text_empties_one_turn_and_closes_normally(serve: Serve) -> None:
    server = serve(faults="drop_text@1=first:1")
    out = run(talk(server.url, query(), audio=AUDIO))
    assert out.close_code == 1000 and not out.of("error")
    assert out.finals == ["alpha beta", "", " epsilon"]
    # the damaged turn is still a whole turn: start, eager end, resume, end; but no text
    second = out.types[out.types.index("turn.end") + 1 :]
    second = second[: second.index("turn.end") + 1]
    assert second[0] == "turn.start" and "turn.update" not in second
    assert "turn.resume" in second
    assert [e["transcript"] for e in out.of("turn.eager_end")][1:2] == [""]
    assert server.wait_idle().faults_injected == {"drop_text": 1}
    again = run(talk(server.url, query(), audio=AUDIO))
    assert again.finals == ["alpha beta", " gamma delta", " epsilon"]


def test_end_early_withholds_every_later_turn(serve: Serve) -> None:
    server = serve(faults="end_early@1=first:1")
    out = run(talk(server.url, query(), audio=AUDIO))
    assert out.close_code == 1000 and not out.of("error")
    assert out.finals == ["alpha beta"]
    assert out.types.count("turn.start") == 1
    assert server.wait_idle().faults_injected == {"end_early": 1}


def test_damage_beyond_the_last_turn_does_not_fire(serve: Serve) -> None:
    server = serve(faults="end_early@60=first:1")
    out = run(talk(server.url, query(), audio=AUDIO))
    assert out.finals == ["alpha beta", " gamma delta", " epsilon"]
    assert server.wait_idle().faults_injected == {}


def test_a_turn_open_when_the_damage_starts_goes_on() -> None:
    damage = TurnDamage(Fault("end_early", at_s=1.0))
    assert damage.apply([TurnStart(), TurnUpdate("a")], audio_s=0.5) == [
        TurnStart(),
        TurnUpdate("a"),
    ]
    late = [TurnUpdate("ab"), TurnEnd("ab"), TurnStart(), TurnEagerEnd("c"), TurnResume()]
    assert damage.apply(late, audio_s=1.5) == [TurnUpdate("ab"), TurnEnd("ab")]
    assert damage.fired
    assert damage.apply([TurnEnd("cd"), TurnStart(), TurnEnd("e")], audio_s=2.0) == []


def test_drop_text_damages_one_turn_only() -> None:
    damage = TurnDamage(Fault("drop_text", at_s=0.0))
    first = damage.apply([TurnStart(), TurnUpdate("a"), TurnEagerEnd("a"), TurnEnd("a")], 0.1)
    assert first == [TurnStart(), TurnEagerEnd(""), TurnEnd("")]
    second = [TurnStart(), TurnUpdate("b"), TurnEnd("b")]
    assert damage.apply(second, 0.2) == second
