"""Run the benchmarks: ``python -m bench [NAMES...] [--smoke] [--repeat N] [--write]``.

    python -m bench                 # everything, 3 runs each (about 1.5 hours on 2 cores)
    python -m bench --smoke         # tiny sizes, one run: seconds; what CI runs
    python -m bench pacing scaling  # some of them
    python -m bench --write         # ... and regenerate BENCHMARKS.md (+ bench/results.json)
    python -m bench --render        # rewrite BENCHMARKS.md from bench/results.json only

Each benchmark is a module ``bench/<name>.py`` with ``run(smoke: bool) -> dict`` (and
``run_index``, the repeat's number, if it measures something in one run only). Ours run
``--repeat`` times and report medians with their range; the store and recognizer benchmarks
take their own medians over internal rounds and run once. Tables go to stdout as Markdown.
``--write``
regenerates BENCHMARKS.md from ``bench/BENCHMARKS.template.md`` (the analysis lives in the
template) and keeps every run's raw result in ``bench/results.json``; with a subset of names,
the other sections are taken from the previous results.json, so the file stays whole.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.common import ROOT, machine

#: run order; a name whose module is missing is skipped with a note
NAMES = (
    "makespan", "pacing", "resources", "scaling", "run", "enqueue", "export", "store_pg", "asr",
    "vad", "report_speed", "speechmap", "split", "pauses", "startup", "loops", "endpoints",
)  # fmt: skip
#: benchmarks that take their own medians over internal rounds, or are deterministic
RUN_ONCE = frozenset(
    {
        "run",
        "enqueue",
        "export",
        "store_pg",
        "asr",
        "vad",
        "report_speed",
        "pauses",
        "startup",
        "endpoints",
    }
)
RESULTS = Path(__file__).with_name("results.json")


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"bench.{name}") is not None


def _write_markdown(out: Path, saved: dict[str, Any]) -> None:
    results = saved["benchmarks"]
    sections = {
        name: f"_Measured {entry['date']}; {len(entry['runs'])} run(s)"
        f"{' (smoke sizes)' if entry['smoke'] else ''}; 1-minute load average before/after "
        f"each run: {', '.join(f'{x:g}' for x in entry.get('load', []))}._\n\n"
        + report.render(name, entry["merged"], entry["runs"])
        for name, entry in results.items()
    }
    command = saved.get("command", "python -m bench --write")
    repeats = saved.get("repeats", "medians of 3 runs (the store and asr benchmarks: one)")
    targets = report.render_targets(results)
    report.write_markdown(out, command, saved["machine"], sections, repeats, targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of: {', '.join(NAMES)}")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run (CI)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per benchmark (3)")
    parser.add_argument("--write", action="store_true", help="regenerate BENCHMARKS.md")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the Markdown from the saved results (after editing the template)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="where --write puts the Markdown (results: bench/results.json, or OUT.json)",
    )
    args = parser.parse_args(argv)
    results_path = RESULTS if args.out == ROOT / "BENCHMARKS.md" else args.out.with_suffix(".json")
    if args.render:
        _write_markdown(args.out, json.loads(results_path.read_text()))
        print(f"wrote {args.out} from {results_path}")
        return 0
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {NAMES})")
    names = [n for n in (args.names or NAMES) if _available(n)]
    repeat = args.repeat or (1 if args.smoke else 3)
    info = machine()
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {info['date']}: {info['cores']} cores, {info['ram_gib']} GiB, load {info['load']}")
    previous: dict[str, Any] = {}
    if args.write and results_path.is_file():
        previous = json.loads(results_path.read_text())
    results: dict[str, Any] = dict(previous.get("benchmarks", {}))
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        times = 1 if name in RUN_ONCE else repeat
        runs = []
        loads = [os.getloadavg()[0]]
        for i in range(times):
            started = time.monotonic()
            print(f"\n## {name} (run {i + 1}/{times})", flush=True)
            if "run_index" in inspect.signature(module.run).parameters:
                runs.append(module.run(smoke=args.smoke, run_index=i))
            else:
                runs.append(module.run(smoke=args.smoke))
            loads.append(os.getloadavg()[0])
            print(f"_{time.monotonic() - started:.0f} s, load {loads[-1]:.2f}_", flush=True)
        merged = report.merge(runs)
        results[name] = {
            "merged": merged,
            "runs": runs,
            "smoke": args.smoke,
            "date": machine()["date"],
            "load": [round(x, 2) for x in loads],
        }
        print(report.render(name, merged, runs), flush=True)
    if args.write:
        command = "python -m bench" + (" --smoke" if args.smoke else "")
        if args.repeat:
            command += f" --repeat {args.repeat}"
        repeats = (
            f"medians of {repeat} runs" if repeat > 1 else "one run"
        ) + f" ({', '.join(sorted(RUN_ONCE))}: their own rounds)"
        saved = {"machine": info, "command": command, "repeats": repeats, "benchmarks": results}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(saved, indent=1) + "\n")
        _write_markdown(args.out, saved)
        print(f"\nwrote {args.out} and {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
