"""An export's memory does not grow with the number of turns, however long the recordings."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from exportkit import add_succeeded, turn_rows

from jobrunner.export import export
from jobrunner.store import Store

TURNS_PER_JOB = 1_000  # a long recording: 200 jobs of it would be 200,000 turns in one page


def peak_mib(store: Store, out: Path, label: str | None) -> float:
    tracemalloc.start()
    try:
        summary = export(store, "jsonl", "turn", label=label, out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.turns > 0
    return peak / (1 << 20)


@pytest.mark.slow
def test_twice_the_turns_take_no_more_memory(tmp_path: Path) -> None:
    texts = [f" Turn number {k}, said slowly." for k in range(TURNS_PER_JOB)]
    rows = turn_rows(texts, gap=2.0)
    with Store.open(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        for i in range(48):
            add_succeeded(
                store, f"/long/{i}.wav", texts, turns=rows, label="half" if i < 24 else None
            )
        half = peak_mib(store, tmp_path / "half.jsonl", "half")  # 24,000 turns
        full = peak_mib(store, tmp_path / "full.jsonl", None)  # 48,000 turns
    assert full < 1.3 * half, (half, full)
