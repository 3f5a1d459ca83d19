"""What an enqueue did, file by file and in total (plain values; the CLI words them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

#: what became of one file (named apart from ``run.outcomes.Outcome``, an attempt's ending)
EnqueueOutcome = Literal["new", "duplicate", "invalid", "skipped"]


@dataclass(frozen=True)
class FileOutcome:
    path: str
    outcome: EnqueueOutcome
    job_id: int | None = None
    new: bool = False  # a job was created for this file (also for a new invalid job)
    reason: str | None = None  # why invalid / skipped
    duration_s: float | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class EnqueueSummary:
    new: int = 0  # valid files that became new queued jobs
    duplicates: int = 0  # valid files whose job already existed
    invalid: int = 0  # files that cannot be streamed (new or already recorded)
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    audio_s: float = 0.0  # audio duration of the new jobs
    dry_run: bool = False

    @classmethod
    def of(cls, outcomes: Sequence[FileOutcome], dry_run: bool) -> EnqueueSummary:
        counts = Counter(o.outcome for o in outcomes)
        skipped = Counter(o.reason or "other" for o in outcomes if o.outcome == "skipped")
        return cls(
            new=counts["new"],
            duplicates=counts["duplicate"],
            invalid=counts["invalid"],
            skipped=counts["skipped"],
            skipped_by_reason=dict(skipped),
            audio_s=sum((o.duration_s or 0.0 for o in outcomes if o.outcome == "new"), 0.0),
            dry_run=dry_run,
        )


@dataclass(frozen=True)
class EnqueueResult:
    summary: EnqueueSummary
    files: tuple[FileOutcome, ...]
