"""Splitting long files into pieces: two 30-minute files at concurrency 8, unsplit and split
side by side, makespan against the ideal.

    python -m bench.split [--smoke]

Each file is tones (the transcript is known) in stretches of conversation whose turns are
0.9 s apart (too short to cut), with a 2 s pause between stretches (about every half minute:
a cut may fall there). Both files are enqueued and mapped (``jobrunner analyze``, untimed:
a run maps ahead of its claims too, but a queue of two files gives it no time ahead), then
one ``jobrunner run -c 8 --pace 8`` drains them against the tones server with its overload
check off (the pace is a test speed-up, see README). Unsplit (``--no-split``) the makespan
is at least the longest file; split, each file becomes about four pieces and the eight
sessions stay busy.

ideal = total audio / (8 x pace) + one drain (the median drain of the run's sessions);
efficiency = ideal / makespan; makespan is the wall time of the ``jobrunner run`` process,
interpreter start included. Every transcript is checked against the text the audio encodes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.audio import WORDS, AudioFile
from bench.common import ROOT, BenchServer, child_env, jobrunner, median, rounded
from bench.fleet import scratch

CONCURRENCY = 8
PACE = 8.0
MINUTES = 30.0
#: silence between stretches of conversation: long enough to cut at (>= 1.5 s)
PAUSE_S = 2.0
STRETCH_TURNS = (8, 20)


def long_file(path: Path, seconds: float, *, seed: int, rate: int = 16000) -> AudioFile:
    """``seconds`` of tones conversation: stretches of turns 0.9 s apart, ``PAUSE_S`` between."""
    from jobrunner.server.tones import synthesize, turn_texts

    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray[Any, Any]] = []
    texts: list[str] = []
    frames = 0
    while frames < seconds * rate:
        turns = []
        for _ in range(int(rng.integers(*STRETCH_TURNS))):
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 7))))
            turns.append(("" if not texts and not turns else " ") + words + ".")
        tail = PAUSE_S - 0.3  # the next stretch's lead-in makes up the pause
        block = synthesize(turns, rate, tail_s=tail)
        blocks.append(block)
        texts.extend(turn_texts(turns))
        frames += len(block)
    audio = np.concatenate(blocks)
    audio = audio + rng.normal(0.0, 3e-4, len(audio)).astype(np.float32)  # unique content
    sf.write(path, audio, rate, subtype="PCM_16")
    return AudioFile(path, len(audio) / rate, "".join(texts))


def one_run(
    server: BenchServer,
    files: list[AudioFile],
    workdir: Path,
    *,
    split: bool,
    split_min_s: float | None = None,
) -> dict[str, Any]:
    """Enqueue and map (untimed), then time one ``jobrunner run`` and check every transcript."""
    from jobrunner.config import load_settings
    from jobrunner.enqueue import enqueue_paths
    from jobrunner.run.analysis import analyze
    from jobrunner.store import Selector, Store

    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / f'split-{split}-{time.monotonic_ns()}.db'}"
    settings = load_settings(profile="local", overrides={"db_url": url})
    with Store.open(url) as store:
        enqueue_paths(store, settings, [f.path for f in files])
        analyze(store, Selector())
    argv = jobrunner("--profile", "local", "--db", url, "run", "-c", str(CONCURRENCY))
    argv += ["--pace", str(PACE), "--base-url", server.url, "--quiet"]
    argv += [] if split else ["--no-split"]
    argv += [] if split_min_s is None else ["--split-min", str(split_min_s)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"jobrunner run exited {done.returncode}: {done.stderr[-2000:]}")
    expected = {str(f.path.resolve()): f.transcript for f in files}
    exact = pieces = 0
    drains: list[float] = []
    with Store.open(url) as store:
        for item in store.iter_export():
            exact += item.transcript == expected[str(Path(item.job.path).resolve())]
        with store.engine.connect() as conn:
            import sqlalchemy as sa

            pieces = conn.execute(
                sa.text("SELECT COUNT(*) FROM jobs WHERE parent_id IS NOT NULL")
            ).scalar_one()
            drains = [
                float(d)
                for (d,) in conn.execute(
                    sa.text("SELECT drain_s FROM attempts WHERE drain_s IS NOT NULL")
                )
            ]
            from jobrunner.store.schema import attempts

            # the sessions' span: first session start to last session end (no stitch rows)
            first, last = conn.execute(
                sa.select(sa.func.min(attempts.c.started_at), sa.func.max(attempts.c.ended_at))
                .where(sa.or_(attempts.c.channel_policy.is_(None),
                              attempts.c.channel_policy != "pieces"))
            ).one()  # fmt: skip
    drain = median(drains) if drains else 0.0
    audio = sum(f.seconds for f in files)
    ideal = audio / (CONCURRENCY * PACE) + drain
    return {
        "split": split,
        "wall_s": rounded(wall, 2),
        "sessions_s": rounded((last - first).total_seconds(), 2),
        "ideal_s": rounded(ideal, 2),
        "efficiency": rounded(ideal / wall, 4),
        "vs_ideal": rounded(wall / ideal, 4),
        "longest_bound_s": rounded(max(f.seconds for f in files) / PACE + drain, 2),
        "pieces": int(pieces),
        "exact": exact,
        "files": len(files),
        "drain_ms": rounded(1000 * drain, 1),
    }


def run(smoke: bool = False) -> dict[str, Any]:
    minutes = 1.0 if smoke else MINUTES
    split_min = 20.0 if smoke else None  # smoke files are short: split them all the same
    with scratch("split") as tmp:
        root = Path(tmp)
        folder = root / "audio"
        folder.mkdir()
        files = [long_file(folder / f"long{i}.wav", minutes * 60, seed=i) for i in range(2)]
        out: dict[str, Any] = {
            "files": len(files),
            "audio_s": rounded(sum(f.seconds for f in files), 1),
            "concurrency": CONCURRENCY,
            "pace": PACE,
        }
        with BenchServer("tones", max_rate=0) as server:
            out["unsplit"] = one_run(server, files, root / "unsplit", split=False)
            out["split"] = one_run(server, files, root / "split", split=True, split_min_s=split_min)
        return out


def render(result: dict[str, Any], runs: list[Any] | None = None) -> str:
    """Markdown for ``bench/report.py``'s ``RENDERERS["split"]``."""
    from bench.report import table

    rows = []
    for key in ("unsplit", "split"):
        row = result[key]
        rows.append(
            [f"jobrunner run -c {result['concurrency']}" + (" --no-split" if key == "unsplit"
             else ""), row["pieces"], row["wall_s"], row.get("sessions_s"), row["ideal_s"],
             row["vs_ideal"],
             row["longest_bound_s"], f"{row['exact']}/{row['files']}"]
        )  # fmt: skip
    header = ["run", "pieces", "makespan s", "first session start to last end s", "ideal s",
              "makespan / ideal", "longest file + drain s", "exact"]  # fmt: skip
    return (
        f"{result['files']} files, {result['audio_s']} s of audio, at `--pace {result['pace']}`"
        f" against the tones server (overload check off). Target: split makespan <= 1.05 x "
        f"ideal.\n\n" + table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="two 1-minute files")
    args = parser.parse_args(argv)
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
