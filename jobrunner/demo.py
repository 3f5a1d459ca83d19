"""``jobrunner demo``: the whole product on the bundled recordings, offline, in well under a minute.

What runs is exactly what a user runs, pointed at a local server instead of Cartesia:

1. the bundled realtime server starts in this process on a free loopback port with the
   ``whisper`` engine (real speech recognition; the ``asr`` extra). There is no fallback to the
   ``tones`` engine: it cannot read speech, and a demo that prints nonsense proves nothing;
2. the five sample recordings (``jobrunner/samples``, several turns each) are queued into the
   demo's own database, ``<out>/demo.db``, recreated on every run, so a user's queue is never
   touched and a second demo runs again instead of finding every file done;
3. the worker behind ``jobrunner run`` streams them at realtime pace at the default concurrency
   (4: with 5 files of 8-14 s that is about 20 s), with the same leases, retries and storage;
4. the results are exported to ``<out>/transcripts.jsonl`` and ``<out>/transcripts.csv``, and
   ``jobrunner report`` writes ``<out>/report.html`` against the samples' reference texts.

The user's environment (``CARTESIA_API_KEY``, ``JOBRUNNER_DB``, ...) is not read: the demo's
settings are the ``local`` profile plus the server's address and the demo database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jobrunner.audio.probe import probe
from jobrunner.config import load_settings
from jobrunner.enqueue import enqueue_paths
from jobrunner.errors import ConfigError
from jobrunner.export import export
from jobrunner.report import write_report
from jobrunner.run import JobOutcome, RunOptions, RunSnapshot, RunSummary, run_queue
from jobrunner.server import LocalServer, ServerConfig
from jobrunner.server.recognizer import get_recognizer
from jobrunner.store import Store

SAMPLES_DIR: Final = Path(__file__).resolve().parent / "samples"
DEMO_DB: Final = "demo.db"
OUTPUTS: Final = ("transcripts.jsonl", "transcripts.csv")
ASR_HINT: Final = "pip install 'jobrunner[asr]'"


@dataclass(frozen=True)
class Sample:
    path: Path
    turns: tuple[str, ...]  # the reference text of each turn

    @property
    def reference(self) -> str:
        return " ".join(self.turns)


def samples() -> list[Sample]:
    """The bundled recordings with their reference texts (``texts.tsv``)."""
    out = []
    for line in (SAMPLES_DIR / "texts.tsv").read_text(encoding="utf-8").splitlines():
        name, tab, text = line.partition("\t")
        if tab:
            out.append(Sample(SAMPLES_DIR / name, tuple(t.strip() for t in text.split(" | "))))
    return out


@dataclass(frozen=True)
class DemoRow:
    """One file as the demo's table shows it."""

    job_id: int
    name: str
    status: str
    turns: int
    transcript: str | None
    reason: str | None
    duration_s: float
    wall_s: float | None  # the last attempt's session, connect to close


@dataclass(frozen=True)
class DemoResult:
    rows: tuple[DemoRow, ...]
    summary: RunSummary
    db_url: str
    outputs: tuple[Path, ...]
    server_url: str

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def _fresh_database(out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        (out_dir / f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{(out_dir / DEMO_DB).resolve()}"


def run_demo(
    out_dir: Path,
    *,
    concurrency: int | None = None,
    pace: float = 1.0,
    on_outcome: Callable[[JobOutcome], None] | None = None,
    on_progress: Callable[[RunSnapshot], None] | None = None,
    handle_signals: bool = False,
) -> DemoResult:
    """Run the demo into ``out_dir``; see the module docstring. ``pace`` above 1 streams
    faster than realtime (tests); ``concurrency`` ``None`` is the profile's default."""
    try:
        engine = get_recognizer("whisper")  # loads the models before the clock starts
    except ConfigError as exc:
        raise ConfigError(
            f"the demo needs the offline speech recognizer: {ASR_HINT} ({exc})"
        ) from exc
    db_url = _fresh_database(out_dir)
    # Pacing at 1x keeps the server's overload check quiet (it judges the average rate); a
    # faster ``pace`` (tests) would trip it, so it is relaxed only then.
    max_rate = ServerConfig.max_rate if pace <= 1.0 else 0.0
    server_config = ServerConfig(port=0, engine="whisper", max_rate=max_rate)
    walls: dict[int, float] = {}

    def outcome(o: JobOutcome) -> None:
        walls[o.job_id] = o.wall_s
        if on_outcome is not None:
            on_outcome(o)

    # longest first, so the short file fills the lane that frees first
    by_length = sorted(samples(), key=lambda s: -probe(s.path).duration_s)
    with LocalServer(server_config, engine) as server, Store.open(db_url) as store:
        settings = load_settings(
            profile="local",
            env={},
            overrides={
                "db_url": db_url,
                "base_url": server.url,
                "pace": pace,
                "concurrency": concurrency,
            },
        )
        enqueue_paths(store, settings, [s.path for s in by_length], label="demo")
        summary = run_queue(
            settings,
            store,
            options=RunOptions(label="demo", handle_signals=handle_signals),
            on_outcome=outcome,
            on_progress=on_progress,
        )
        outputs = tuple(out_dir / name for name in OUTPUTS)
        export(store, "jsonl", out=outputs[0])
        export(store, "csv", out=outputs[1])
        references = SAMPLES_DIR / "texts.tsv"
        outputs += (write_report(store, out_dir / "report.html", references=references),)
        rows = tuple(
            DemoRow(
                job_id=e.job.id,
                name=Path(e.job.path).name,
                status=e.job.state,
                turns=len(e.turns),
                transcript=e.transcript,
                reason=e.job.reason,
                duration_s=e.job.duration_s or 0.0,
                wall_s=walls.get(e.job.id),
            )
            for e in store.iter_export()
        )
        server_url = server.url
    return DemoResult(rows, summary, db_url, outputs, server_url)


__all__ = ["DemoResult", "DemoRow", "Sample", "run_demo", "samples"]
