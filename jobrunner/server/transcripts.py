"""Transcript text: how a turn's text only ever grows, and how recognizer output is judged.

The wire contract says a turn's text is never revised, only extended; a recognizer that
re-decodes a growing turn changes its mind, so :func:`agreed_prefix` decides what is safe to
send and :func:`merge` whether a later decode extends it. Both compare words the way the
word error rate does (:func:`normalize_words`), so "spades," and "spades." are one word.
"""

from __future__ import annotations

import re
from typing import Final

_NUMBERS: Final = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_SPELLINGS: Final = {"mr": "mister", "mrs": "missus", "dr": "doctor", "ok": "okay"}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; small numbers and titles spelled out."""
    words = re.sub(r"[^\w\s']|_", " ", text.lower()).replace("'", "").split()
    out: list[str] = []
    for word in words:
        if word.isdigit() and int(word) < len(_NUMBERS):
            word = _NUMBERS[int(word)]
        out.append(_SPELLINGS.get(word, word))
    return out


def word_edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + insertions + deletions turning ``reference`` into ``hypothesis``."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits over the reference word count, both normalised by :func:`normalize_words`."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return float(bool(hyp))
    return word_edit_distance(ref, hyp) / len(ref)


def merge(sent: str, hypothesis: str) -> str | None:
    """``sent`` followed by the words of ``hypothesis`` after it, or None if they disagree.

    Words are compared normalised (case, punctuation, small numbers), so a final that writes
    "spades." where a partial sent "spades," still extends it; the sent spelling is kept.
    """
    if not sent:
        return hypothesis
    target = normalize_words(sent)
    tokens = hypothesis.split()
    done: list[str] = []
    for count, token in enumerate(tokens):
        if done == target:
            return " ".join([sent, *tokens[count:]])
        done.extend(normalize_words(token))
        if len(done) > len(target) or done != target[: len(done)]:
            return None
    return sent if done == target else None


def agreed_prefix(previous: str, current: str) -> str:
    """The leading words ``current`` shares with ``previous``, never its last word.

    Two decodes of a growing turn that agree on a word seldom change it later, while one
    decode of a word cut by the audio edge often guesses wrong (the local-agreement policy).
    """
    prev, cur = previous.split(), current.split()[:-1]
    count = 0
    for a, b in zip(prev, cur, strict=False):
        if normalize_words(a) != normalize_words(b):
            break
        count += 1
    return " ".join(cur[:count])


__all__ = ["agreed_prefix", "merge", "normalize_words", "word_edit_distance", "word_error_rate"]
