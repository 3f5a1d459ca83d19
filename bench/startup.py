"""Start-up: how long ``jobrunner --help``, ``status`` and ``run`` on an empty queue take.

    python -m bench.startup [--smoke]

Each command is a fresh process (``python -m jobrunner ...``), timed from the spawn to its
exit: fork, exec, interpreter start, imports, the command's work, with bytecode caching on
(see :func:`bench.common.child_env`).
``status`` and ``run`` use an up-to-date SQLite database (made once, before timing): no
migration is due. ``run`` has
nothing to claim (``--profile local --no-progress``, stderr not a terminal). Reported per
command: the median, min and max wall time of ``ROUNDS`` runs, the median CPU time (user +
system, ``wait4``), and ``python -c pass`` as the floor the interpreter alone sets. CPU time
is the steadier figure on a shared machine: wall time includes waiting for a core.

Where the time goes: one ``python -X importtime`` run per command, its self times summed by
top-level package (``jobrunner.*`` by subpackage), as shares of all import time.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, child_env, jobrunner, median, rounded, wait_with_rusage
from bench.fleet import scratch
from bench.report import table

ROUNDS = 10
#: name -> (arguments after ``jobrunner``, wall-time target in seconds)
COMMANDS: dict[str, tuple[tuple[str, ...], float | None]] = {
    "python -c pass": ((), None),
    "jobrunner --help": (("--help",), 0.3),
    "jobrunner status": (("--db", "{db}", "status"), 0.3),
    "jobrunner run (empty queue)": (
        ("--profile", "local", "--db", "{db}", "run", "--no-progress"),
        0.5,
    ),
}
TOP_PACKAGES = 6


def _argv(name: str, db: str) -> list[str]:
    args, _ = COMMANDS[name]
    if not args:
        return [PYTHON, "-c", "pass"]
    return jobrunner(*(a.format(db=db) for a in args))


def _time(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``, spawn to exit."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        code, cpu_s, _ = wait_with_rusage(proc)
        wall = time.perf_counter() - started
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv[2:])} exited {code}: {err.read()[-2000:]!r}")
    return wall, cpu_s


def import_shares(argv: list[str]) -> dict[str, float]:
    """Share of import time per top-level package (self times of ``-X importtime``)."""
    done = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    totals: collections.Counter[str] = collections.Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        parts = name.strip().split(".")
        top = ".".join(parts[:2]) if parts[0] == "jobrunner" else parts[0]
        totals[top] += int(self_us)
    whole = sum(totals.values()) or 1
    shares = {name: rounded(us / whole, 3) for name, us in totals.most_common(TOP_PACKAGES)}
    return {"total_ms": rounded(whole / 1000, 1), **shares}


def run(smoke: bool = False) -> dict[str, Any]:
    from jobrunner.store import Store

    rounds = 2 if smoke else ROUNDS
    out: dict[str, Any] = {"rounds": rounds, "commands": []}
    with scratch("startup") as tmp:
        db = f"sqlite:///{Path(tmp) / 'queue.db'}"
        with Store.open(db):  # created and migrated here, not in the timed runs
            pass
        for name, (_, target) in COMMANDS.items():
            argv = _argv(name, db)
            _time(argv)  # warm the page cache and write the bytecode cache
            samples = [_time(argv) for _ in range(rounds)]
            walls = [w for w, _ in samples]
            out["commands"].append(
                {
                    "command": name,
                    "argv": " ".join(["python", *argv[1:]]).replace(str(tmp), "TMP"),
                    "target_s": target,
                    "wall_s_median": rounded(median(walls)),
                    "wall_s_min": rounded(min(walls)),
                    "wall_s_max": rounded(max(walls)),
                    "cpu_s_median": rounded(median(c for _, c in samples)),
                    "imports": import_shares(argv) if target is not None else {},
                }
            )
    return out


def render(result: dict[str, Any], runs: list[Any]) -> str:
    rows = []
    for c in result["commands"]:
        target = c.get("target_s")
        verdict = "-" if target is None else ("met" if c["wall_s_median"] < target else "missed")
        imports = c.get("imports") or {}
        spent = ", ".join(
            f"{name} {100 * share:.0f} %" for name, share in imports.items() if name != "total_ms"
        )
        rows.append(
            [f"`{c['command']}`", c["wall_s_median"], f"{c['wall_s_min']}-{c['wall_s_max']}",
             c["cpu_s_median"], "-" if target is None else f"< {target}", verdict, spent or "-"]
        )  # fmt: skip
    header = ["command", "wall s (median)", "min-max", "CPU s (median)", "target", "",
              "import time by package (share)"]  # fmt: skip
    return (
        f"Median of {result['rounds']} runs each, spawn to exit (`bench/startup.py`).\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 runs per command")
    args = parser.parse_args(argv)
    result = run(smoke=args.smoke)
    print(json.dumps(result, indent=2))
    print(render(result, [result]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
