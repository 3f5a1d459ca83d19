"""The speech map end to end: true turn times and turn-detection latency from ``jobrunner run``.

    python bench/speechmap.py            # every file of segments.json (about a minute)
    python bench/speechmap.py --smoke    # three files
    python -m bench speechmap --write    # through the benchmark runner, into BENCHMARKS.md

What a user does, as subprocesses: ``jobrunner enqueue`` the files of ``../shared/speech`` that
have true segments (``segments.json``: synthesized and LibriVox read speech), ``jobrunner run
-c 4`` at realtime pace against the bundled server with ``--engine whisper`` (the real offline
recognizer, in this process; the service-like overload check on), ``jobrunner export --by
turn``. Each exported turn is
compared with the true segments its speech times overlap (their first start and last end): a
turn is *within tolerance* when both its ``speech_start_s`` and ``speech_end_s`` are within
150 ms of them; a turn without speech times, or overlapping no true segment, is not. Also:
the true segments no turn's speech overlaps, p50/p90 of ``end_latency_s`` and
``start_latency_s``, whether ``end_latency_s`` equals ``end_s - speech_end_s`` in every row,
and the coverage verdicts (a clean run must flag nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import child_env, jobrunner, machine, rounded, run_checked  # noqa: E402
from jobrunner.server import LocalServer, ServerConfig  # noqa: E402
from jobrunner.server.recognizer import get_recognizer  # noqa: E402
from jobrunner.timing.latency import Latencies  # noqa: E402

SPEECH = Path(os.environ.get("JOBRUNNER_SPEECH", ROOT.parent / "shared" / "speech"))
TOLERANCE_S = 0.150
TARGET_SHARE = 0.95
SMOKE_FILES = ("two_sent_1p5s.wav", "short_turns.wav", "real/librivox_0880.wav")


def truth() -> dict[str, list[tuple[float, float]]]:
    data = json.loads((SPEECH / "segments.json").read_text())
    return {name: [(float(a), float(b)) for a, b in spans] for name, spans in data.items()}


def score(
    rows: list[dict[str, Any]], spans: dict[str, list[tuple[float, float]]]
) -> dict[str, Any]:
    """Exported turns (by name) against the true segments; see the module docstring."""
    within, errors, turns, missed = 0, [], 0, 0
    outside: list[dict[str, Any]] = []
    for name, true in spans.items():
        mine = [r for r in rows if r["name"] == name]
        hit: set[int] = set()
        for row in mine:
            turns += 1
            start, end = row["speech_start_s"], row["speech_end_s"]
            over = []
            if start is not None and end is not None:
                over = [i for i, (a, b) in enumerate(true) if a < end and start < b]
            if over:
                hit.update(over)
                err = (abs(start - true[over[0]][0]), abs(end - true[over[-1]][1]))
                errors += err
                if max(err) <= TOLERANCE_S:
                    within += 1
                    continue
            outside.append(
                {"name": name, "turn": row["turn_index"], "speech": [start, end],
                 "truth": [true[i] for i in over], "transcript": row["transcript"]}
            )  # fmt: skip
        missed += len(true) - len(hit)
    ms = sorted(1000 * e for e in errors)
    return {
        "turns": turns,
        "within_150ms": within,
        "share_within": rounded(within / turns, 4) if turns else None,
        "true_segments_missed": missed,
        "boundary_mean_ms": rounded(sum(ms) / len(ms), 1) if ms else None,
        "boundary_max_ms": rounded(ms[-1], 1) if ms else None,
        "outside": outside,
    }


def measure(names: list[str], root: Path) -> dict[str, Any]:
    audio = root / "audio"
    for name in names:
        target = audio / name.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPEECH / name, target)
    db = f"sqlite:///{root / 'q.db'}"
    env = child_env()
    engine = get_recognizer("whisper")  # the models load before anything is timed
    with LocalServer(ServerConfig(port=0, engine="whisper"), engine) as server:
        run_checked(jobrunner("--db", db, "enqueue", str(audio)), env=env)
        started = time.monotonic()
        summary = run_checked(
            jobrunner(
                "--db", db, "--profile", "local", "run", "-c", "4", "--pace", "1",
                "--base-url", server.url, "--json",
            ),
            env=env,
        )  # fmt: skip
        wall = time.monotonic() - started
    outcome = json.loads(summary.splitlines()[-1])
    exported = run_checked(jobrunner("--db", db, "export", "--by", "turn"), env=env)
    rows = [json.loads(line) for line in exported.splitlines()]
    for row in rows:
        row["name"] = Path(row["path"]).name.replace("__", "/")
    files = run_checked(jobrunner("--db", db, "export"), env=env)
    verdicts = [json.loads(line)["coverage"] for line in files.splitlines()]
    end = Latencies.of(r["end_latency_s"] for r in rows)
    start = Latencies.of(r["start_latency_s"] for r in rows)
    same = all(
        abs(r["end_s"] - r["speech_end_s"] - r["end_latency_s"]) < 1e-9
        for r in rows
        if r["end_latency_s"] is not None
    )
    spans = {n: s for n, s in truth().items() if n in names}
    box = machine()
    return {
        "machine": f"{box['cores']} cores ({box['cpu']}), {box['ram_gib']} GiB RAM",
        "files": len(names),
        "audio_s": rounded(sum(r["duration_s"] for r in map(json.loads, files.splitlines())), 1),
        "succeeded": outcome["succeeded"],
        "run_wall_s": rounded(wall, 1),
        **score(rows, spans),
        "end_latency_p50_s": end.p50_s,
        "end_latency_p90_s": end.p90_s,
        "turns_with_end_latency": end.turns,
        "start_latency_p50_s": start.p50_s,
        "start_latency_p90_s": start.p90_s,
        "latency_is_end_minus_speech_end": same,
        "run_summary_end_latency": outcome["end_latency"],
        "covered": verdicts.count("covered"),
        "uncovered": verdicts.count("uncovered"),
    }


def run(smoke: bool = False) -> dict[str, Any]:
    names = list(SMOKE_FILES) if smoke else sorted(truth())
    with tempfile.TemporaryDirectory(prefix="bench-speechmap-") as tmp:
        return measure(names, Path(tmp))


def render(result: dict[str, Any], runs: list[Any] | None = None) -> str:
    """Markdown for ``bench/report.py``'s ``RENDERERS["speechmap"]`` (``result``: the medians
    of ``runs``)."""
    runs = runs or [result]
    share = result["share_within"]
    each = ", ".join(f"{100 * r['share_within']:.1f} %" for r in runs if r["share_within"])
    lines = [
        f"{result['files']} files ({result['audio_s']} s of audio) through `jobrunner run -c 4` "
        f"at realtime against `jobrunner serve --engine whisper`; {result['succeeded']} "
        f"succeeded in {result['run_wall_s']} s"
        + (f" (on {result['machine']})." if "machine" in result else "."),
        "",
        "| measure | value |",
        "|---|---|",
        f"| turns with speech times within 150 ms of the truth (target >= 95 %) | "
        f"{result['within_150ms']} of {result['turns']} ({100 * (share or 0):.1f} %; runs: "
        f"{each}) |",
        f"| boundary error, mean / max | {result['boundary_mean_ms']} / "
        f"{result['boundary_max_ms']} ms |",
        f"| true segments no turn covers | {result['true_segments_missed']} |",
        f"| end_latency_s p50 / p90 ({result['turns_with_end_latency']} turns ended by the "
        f"detector, not the flush) | {result['end_latency_p50_s']} / "
        f"{result['end_latency_p90_s']} s |",
        f"| start_latency_s p50 / p90 | {result['start_latency_p50_s']} / "
        f"{result['start_latency_p90_s']} s |",
        f"| end_latency_s = end_s - speech_end_s in every exported row | "
        f"{'yes' if result['latency_is_end_minus_speech_end'] else '**no**'} |",
        f"| coverage verdicts on this clean run | {result['covered']} covered, "
        f"{result['uncovered']} uncovered |",
    ]
    for number, one in enumerate(runs, 1):
        for miss in one.get("outside", []):
            lines.append(
                f"\nOutside the tolerance (run {number}): {miss['name']} turn {miss['turn']} "
                f"({miss['transcript']!r}): speech {miss['speech']}, truth {miss['truth']}."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="three files")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    res = run(smoke=args.smoke)
    print(render(res))
    if args.json:
        print(json.dumps(res, indent=1))
