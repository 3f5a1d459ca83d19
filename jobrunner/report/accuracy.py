"""Word error rate against the references, per file and overall, and turn-count agreement.

Both sides go through Whisper's ``EnglishTextNormalizer`` (the ``whisper-normalizer`` package)
before alignment: lower case; punctuation, hesitations ("uh", "hmm") and bracketed asides
removed; British spellings and contractions unified; spelled-out numbers written as digits. It
is the normaliser most published English WER figures use (Whisper's paper, the Open ASR
Leaderboard), so the figures here compare with them. Words are aligned by jiwer (Levenshtein);
the overall WER is total errors over total reference words, so a three-hour file weighs what
its words weigh rather than what one file weighs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

import jiwer

from jobrunner.report.references import References
from jobrunner.store.report_queries import ReportJob

TurnVerdict = Literal["equal", "split", "merged"]


@functools.cache
def _english() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    normalizer: Callable[[str], str] = EnglishTextNormalizer()
    return normalizer


def normalize(text: str) -> list[str]:
    """The words of ``text`` as they are compared."""
    return _english()(text).split()


def normalizer_name() -> str:
    def of(package: str) -> str:
        try:
            return f"{package} {version(package)}"
        except PackageNotFoundError:  # pragma: no cover - both are dependencies
            return package

    return (
        f"Whisper EnglishTextNormalizer ({of('whisper-normalizer')}) on both sides, "
        f"word alignment by {of('jiwer')}"
    )


@dataclass(frozen=True)
class WordCounts:
    substitutions: int
    deletions: int
    insertions: int
    hits: int

    @property
    def ref_words(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """Errors over reference words; ``None`` when the reference has no words."""
        return self.errors / self.ref_words if self.ref_words else None


def word_counts(reference: str, hypothesis: str) -> WordCounts:
    """Substitutions, deletions, insertions and hits of ``hypothesis`` against ``reference``."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref or not hyp:  # jiwer refuses an empty reference; either way the answer is plain
        return WordCounts(0, len(ref), len(hyp), 0)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return WordCounts(out.substitutions, out.deletions, out.insertions, out.hits)


@dataclass(frozen=True)
class FileAccuracy:
    job_id: int
    path: str
    wer: float | None
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    ref_turns: int | None  # when the references mark turns
    turns: int  # turns with text
    turn_verdict: TurnVerdict | None


@dataclass(frozen=True)
class TurnAgreement:
    """Turn counts against references that mark turns: ``split`` files have more turns than
    the reference (the detector ended a turn mid-utterance), ``merged`` fewer."""

    files: int
    equal: int
    split: int
    merged: int
    extra_turns: int
    missing_turns: int


@dataclass(frozen=True)
class Accuracy:
    source: str
    normalizer: str
    files: tuple[FileAccuracy, ...]  # worst first
    wer: float | None
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    unmatched_references: tuple[str, ...]  # references naming no file of the report
    without_reference: tuple[str, ...]  # files of the report with no reference
    without_transcript: tuple[str, ...]  # files with a reference but no transcript (yet)
    turn_agreement: TurnAgreement | None


def _verdict(ref_turns: int, turns: int) -> TurnVerdict:
    return "equal" if turns == ref_turns else "split" if turns > ref_turns else "merged"


def _agreement(files: Sequence[FileAccuracy]) -> TurnAgreement:
    marked = [f for f in files if f.ref_turns is not None]
    return TurnAgreement(
        files=len(marked),
        equal=sum(f.turn_verdict == "equal" for f in marked),
        split=sum(f.turn_verdict == "split" for f in marked),
        merged=sum(f.turn_verdict == "merged" for f in marked),
        extra_turns=sum(max(0, f.turns - (f.ref_turns or 0)) for f in marked),
        missing_turns=sum(max(0, (f.ref_turns or 0) - f.turns) for f in marked),
    )


def _worst_first(f: FileAccuracy) -> tuple[bool, float, int, int]:
    return (
        f.wer is None,
        -(f.wer or 0.0),
        -(f.substitutions + f.deletions + f.insertions),
        f.job_id,
    )


def accuracy(
    jobs: Sequence[ReportJob], refs: References, text_turns: Mapping[int, int]
) -> Accuracy:
    """WER of every job that has both a reference and a transcript; ``text_turns``: the number
    of turns with text per job id (for turn agreement)."""
    files: list[FileAccuracy] = []
    without_transcript: list[str] = []
    for job in jobs:
        ref = refs.by_job.get(job.id)
        if ref is None:
            continue
        if job.transcript is None:
            without_transcript.append(job.path)
            continue
        counts = word_counts(ref.text, job.transcript)
        ref_turns = len([t for t in ref.turns if t]) if refs.marks_turns else None
        turns = text_turns.get(job.id, 0)
        files.append(
            FileAccuracy(
                job_id=job.id,
                path=job.path,
                wer=counts.wer,
                substitutions=counts.substitutions,
                deletions=counts.deletions,
                insertions=counts.insertions,
                ref_words=counts.ref_words,
                ref_turns=ref_turns,
                turns=turns,
                turn_verdict=None if ref_turns is None else _verdict(ref_turns, turns),
            )
        )
    total = WordCounts(
        sum(f.substitutions for f in files),
        sum(f.deletions for f in files),
        sum(f.insertions for f in files),
        sum(f.ref_words - f.substitutions - f.deletions for f in files),
    )
    return Accuracy(
        source=refs.source,
        normalizer=normalizer_name(),
        files=tuple(sorted(files, key=_worst_first)),
        wer=total.wer,
        substitutions=total.substitutions,
        deletions=total.deletions,
        insertions=total.insertions,
        ref_words=total.ref_words,
        unmatched_references=refs.unmatched,
        without_reference=tuple(j.path for j in jobs if j.id not in refs.by_job),
        without_transcript=tuple(without_transcript),
        turn_agreement=_agreement(files) if refs.marks_turns else None,
    )


__all__ = ["Accuracy", "FileAccuracy", "TurnAgreement", "WordCounts", "accuracy", "word_counts"]
