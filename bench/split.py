"""Splitting long files into pieces: two 30-minute files at concurrency 8, unsplit and split
side by side, makespan against the ideal.

    python -m bench.split [--smoke]
    python -m bench split --repeat 1 --write     # into BENCHMARKS.md (+ bench/results.json)
    python -m bench.split --wer --save && python -m bench --render   # the words part alone

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

Then the words: the recordings of ``../shared/speech`` joined into two long files (each
recording once per file, in another order, :data:`JOIN_GAP_S` of silence between them), run
through ``jobrunner serve --engine whisper`` at realtime, unsplit and split (``--split-min``
:data:`WER_SPLIT_MIN_S`, so these few minutes split as an hour would). Word error rate of each
against the texts of ``texts.tsv`` by the report's scorer (:mod:`jobrunner.report.accuracy`,
jiwer), corpus-wide; the target is split within 1 point of unsplit.
"""

from __future__ import annotations

import argparse
import importlib.util
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
SPEECH = ROOT.parent / "shared" / "speech"
#: silence between two recordings of the shared speech joined into one file
JOIN_GAP_S = 2.5
WER_SPLIT_MIN_S = 20.0
WER_CONCURRENCY = 8


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


def joined_speech(folder: Path, files: int, *, smoke: bool = False) -> list[AudioFile]:
    """``files`` long files of the shared speech recordings, each once per file, in a shuffled
    order, :data:`JOIN_GAP_S` apart; the transcript is their texts joined by spaces."""
    rows = [line.split("\t") for line in (SPEECH / "texts.tsv").read_text().splitlines()]
    texts = {name: text.replace(" | ", " ") for name, text in rows}
    names = sorted(texts)[:4] if smoke else sorted(texts)
    out: list[AudioFile] = []
    for i in range(files):
        order = np.random.default_rng(i).permutation(names)
        gap = np.zeros(round(JOIN_GAP_S * 16000), np.float32)
        clips = [sf.read(SPEECH / name, dtype="float32")[0] for name in order]
        audio = np.concatenate([x for clip in clips for x in (gap, clip)] + [gap])
        path = folder / f"speech{i}.wav"
        sf.write(path, audio, 16000, subtype="PCM_16")
        out.append(AudioFile(path, len(audio) / 16000, " ".join(texts[n] for n in order)))
    return out


def one_run(
    url: str,
    files: list[AudioFile],
    workdir: Path,
    *,
    split: bool,
    split_min_s: float | None = None,
    concurrency: int = CONCURRENCY,
    pace: float = PACE,
) -> dict[str, Any]:
    """Enqueue and map (untimed), then time one ``jobrunner run`` and check every transcript."""
    from jobrunner.config import load_settings
    from jobrunner.enqueue import enqueue_paths
    from jobrunner.report.accuracy import word_counts
    from jobrunner.run.analysis import analyze
    from jobrunner.store import Selector, Store

    workdir.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{workdir / f'split-{split}-{time.monotonic_ns()}.db'}"
    settings = load_settings(profile="local", overrides={"db_url": db})
    with Store.open(db) as store:
        enqueue_paths(store, settings, [f.path for f in files])
        analyze(store, Selector())
    argv = jobrunner("--profile", "local", "--db", db, "run", "-c", str(concurrency))
    argv += ["--pace", str(pace), "--base-url", url, "--quiet"]
    argv += [] if split else ["--no-split"]
    argv += [] if split_min_s is None else ["--split-min", str(split_min_s)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"jobrunner run exited {done.returncode}: {done.stderr[-2000:]}")
    expected = {str(f.path.resolve()): f.transcript for f in files}
    exact = pieces = errors = words = 0
    drains: list[float] = []
    with Store.open(db) as store:
        for item in store.iter_export():
            reference = expected[str(Path(item.job.path).resolve())]
            exact += item.transcript == reference
            counts = word_counts(reference, item.transcript or "")
            errors, words = errors + counts.errors, words + counts.ref_words
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
    ideal = audio / (concurrency * pace) + drain
    return {
        "split": split,
        "wall_s": rounded(wall, 2),
        "sessions_s": rounded((last - first).total_seconds(), 2),
        "ideal_s": rounded(ideal, 2),
        "efficiency": rounded(ideal / wall, 4),
        "vs_ideal": rounded(wall / ideal, 4),
        "longest_bound_s": rounded(max(f.seconds for f in files) / pace + drain, 2),
        "pieces": int(pieces),
        "exact": exact,
        "files": len(files),
        "drain_ms": rounded(1000 * drain, 1),
        "wer": rounded(errors / words, 4) if words else None,
        "ref_words": words,
    }


def whisper_wer(root: Path, smoke: bool) -> dict[str, Any]:
    """Split versus unsplit word error rate with the whisper engine (see the module doc)."""
    folder = root / "speech"
    folder.mkdir()
    files = joined_speech(folder, 1 if smoke else 2, smoke=smoke)
    split_min = 5.0 if smoke else WER_SPLIT_MIN_S
    out: dict[str, Any] = {
        "files": len(files),
        "audio_s": rounded(sum(f.seconds for f in files), 1),
        "concurrency": WER_CONCURRENCY,
        "split_min_s": split_min,
    }
    from jobrunner.server import LocalServer, ServerConfig
    from jobrunner.server.recognizer import get_recognizer

    engine = get_recognizer("whisper")  # the models load before anything is timed
    with LocalServer(ServerConfig(port=0, engine="whisper"), engine) as server:
        for split in (False, True):
            out["split" if split else "unsplit"] = one_run(
                server.url, files, root / f"wer-{split}", split=split, split_min_s=split_min,
                concurrency=WER_CONCURRENCY, pace=1.0,
            )  # fmt: skip
    out["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    unsplit, split_wer = out["unsplit"]["wer"], out["split"]["wer"]
    if unsplit is not None and split_wer is not None:
        out["wer_points"] = rounded(100 * (split_wer - unsplit), 2)
    return out


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
            out["unsplit"] = one_run(server.url, files, root / "unsplit", split=False)
            out["split"] = one_run(
                server.url, files, root / "split", split=True, split_min_s=split_min
            )
        if importlib.util.find_spec("faster_whisper") is not None and SPEECH.is_dir():
            out["whisper"] = whisper_wer(root, smoke)
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
    text = (
        f"{result['files']} files, {result['audio_s']} s of audio, at `--pace {result['pace']}`"
        f" against the tones server (overload check off). Target: split makespan <= 1.05 x "
        f"ideal.\n\n" + table(header, rows)
    )
    if "whisper" in result:
        text += "\n\n" + render_wer(result["whisper"])
    return text


def render_wer(result: dict[str, Any]) -> str:
    from bench.report import table

    rows = [
        [f"jobrunner run -c {result['concurrency']}" + (" --no-split" if key == "unsplit" else
         f" --split-min {result['split_min_s']:g}"), result[key]["pieces"],
         result[key]["ref_words"], result[key]["wer"]]
        for key in ("unsplit", "split")
    ]  # fmt: skip
    points = result.get("wer_points")
    return (
        f"Words: the shared speech joined into {result['files']} files ({result['audio_s']} s"
        f" of audio, {JOIN_GAP_S:g} s between recordings) through the whisper engine at "
        f"realtime, measured {result.get('date', '(date not saved)')}. Target: split WER within"
        f" 1 point of unsplit; split - unsplit = {points} points.\n\n"
        + table(["run", "pieces", "reference words", "WER"], rows)
    )


def save_wer(result: dict[str, Any]) -> None:
    """Put a words-only result into bench/results.json's split entry (its median and its
    last run), leaving the makespan figures as they were measured."""
    path = Path(__file__).with_name("results.json")
    saved = json.loads(path.read_text())
    entry = saved["benchmarks"]["split"]
    for doc in (entry["merged"], *entry["runs"][-1:]):
        doc["whisper"] = result
    path.write_text(json.dumps(saved, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="two 1-minute files")
    parser.add_argument("--wer", action="store_true", help="only the whisper words part")
    parser.add_argument("--save", action="store_true", help="--wer: into bench/results.json")
    args = parser.parse_args(argv)
    if args.wer:
        with scratch("split-wer") as tmp:
            result = whisper_wer(Path(tmp), args.smoke)
        if args.save:
            save_wer(result)
        print(json.dumps(result, indent=2))
        return 0
    print(json.dumps(run(smoke=args.smoke), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
