"""A Batch answer as turns: the speech map's segments filled with its words, text verbatim."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobrunner.audio.vad import Segment
from jobrunner.protocol.words import Word
from jobrunner.run.batch_turns import batch_turns

TEXT = " Hello there. How are you? Fine."
WORDS = (
    Word("Hello", 0.5, 0.8),
    Word("there.", 0.8, 1.2),
    Word("How", 3.0, 3.2),
    Word("are", 3.2, 3.4),
    Word("you?", 3.4, 3.7),
    Word("Fine.", 9.6, 10.0),  # after the last segment: goes to the nearest
)
SEGMENTS = (Segment(0.4, 1.3), Segment(2.9, 3.8), Segment(6.0, 7.0))


def test_each_segment_with_words_is_a_turn_and_the_texts_join_verbatim() -> None:
    turns = batch_turns(TEXT, WORDS, SEGMENTS)
    assert [t.text for t in turns] == [" Hello there.", " How are you?", " Fine."]
    assert "".join(t.text for t in turns) == TEXT
    assert [len(t.words) for t in turns] == [2, 3, 1]
    # without the last segment, "Fine." joins the nearest one; a segment with no words is no turn
    turns = batch_turns(TEXT, WORDS, (*SEGMENTS[:2], Segment(20.0, 21.0)))
    assert [t.text for t in turns] == [" Hello there.", " How are you? Fine."]


def test_without_a_map_or_words_the_whole_text_is_one_turn() -> None:
    assert [t.text for t in batch_turns(TEXT, WORDS, None)] == [TEXT]
    assert [t.text for t in batch_turns(TEXT, (), SEGMENTS)] == [TEXT]
    assert batch_turns("", (), SEGMENTS) == []


def test_words_the_text_does_not_hold_in_order_make_one_turn() -> None:
    odd = (Word("Goodbye", 0.5, 0.8), Word("you?", 3.4, 3.7))
    assert [t.text for t in batch_turns(TEXT, odd, SEGMENTS)] == [TEXT]


@given(
    st.lists(st.sampled_from(["a", "bb", "c.", "d?"]), min_size=1, max_size=12),
    st.lists(st.floats(0, 30), min_size=1, max_size=6),
)
def test_turns_always_join_to_the_text(tokens: list[str], starts: list[float]) -> None:
    text = "".join(" " + t for t in tokens)
    words = [Word(t, i * 1.0, i * 1.0 + 0.5) for i, t in enumerate(tokens)]
    segments = [Segment(s, s + 1.0) for s in sorted(starts)]
    turns = batch_turns(text, words, segments)
    assert "".join(t.text for t in turns) == text
    assert [w for t in turns for w in t.words] == words
