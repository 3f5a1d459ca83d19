"""Results -> Markdown: medians over repeated runs, one table per benchmark, BENCHMARKS.md.

``merge`` folds several runs of one benchmark into one result of the same shape: numbers
become their median, dicts merge key by key, lists of dicts element by element, anything else
(text, profiles) is taken from the first run. ``render`` turns a merged result into Markdown;
benchmarks without a renderer of their own get a flat key/value table.
"""

from __future__ import annotations

import importlib
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("BENCHMARKS.template.md")
#: benchmarks with a section of their own in the template (the rest go under "other")
SECTIONS = (
    "makespan", "pacing", "processes", "resources", "scaling", "run", "enqueue", "export",
    "store_pg", "vad", "report_speed", "speechmap", "split", "pauses", "startup", "loops",
    "endpoints",
)  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def merge(runs: list[Any]) -> Any:
    runs = [r for r in runs if r is not None]
    if not runs:
        return None
    first = runs[0]
    if all(_is_number(r) for r in runs):
        finite = [r for r in runs if not (isinstance(r, float) and math.isnan(r))]
        if not finite:
            return first
        value = statistics.median(finite)
        return round(value, 6) if isinstance(value, float) else value
    if all(isinstance(r, dict) for r in runs):
        keys = list(dict.fromkeys(k for r in runs for k in r))
        return {k: merge([r[k] for r in runs if k in r]) for k in keys}
    if all(isinstance(r, list) for r in runs) and all(isinstance(x, dict) for x in first):
        if len({len(r) for r in runs}) == 1:
            return [merge(list(column)) for column in zip(*runs, strict=True)]
    return first


def _values(runs: list[Any], path: tuple[str | int, ...]) -> list[Any]:
    """One figure from each run that has it (a run may lack a row another has)."""
    values = []
    for run in runs:
        node = run
        try:
            for key in path:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            continue
        if _is_number(node):
            values.append(node)
    return values


def spread(runs: list[Any], *path: str | int) -> str:
    """``min-max`` of one figure over the runs (empty for a single run)."""
    values = _values(runs, path)
    if len(values) < 2:
        return ""
    return f"{_fmt(min(values))}-{_fmt(max(values))}"


def ranged(
    value: Any, runs: list[Any], *path: str | int, fmt: Callable[[Any], Any] | None = None
) -> str:
    """The median with the range of the runs, ``12.3 (12.1-12.6)``; the value alone when only
    one run has it. ``fmt`` formats all three (default: as the tables do)."""
    show = fmt or _fmt
    values = _values(runs, path)
    if value is None or len(values) < 2:
        return _fmt(show(value))
    return f"{show(value)} ({show(min(values))}-{show(max(values))})"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _rate(value: Any) -> Any:
    """Send rates need four decimals: the target is within 1 % of 1.0."""
    return None if value is None else f"{value:.4f}"


def _pct(value: Any) -> Any:
    return None if value is None else f"{_fmt(value)} %"


def _runs(runs: list[Any]) -> str:
    return "one run" if len(runs) == 1 else f"{len(runs)} runs"


# --- one renderer per benchmark ------------------------------------------------------------


def render_makespan(result: dict[str, Any], runs: list[Any]) -> str:
    out = []
    mixed = result.get("mixed", {})
    if mixed:
        out.append(
            f"{mixed['files']} files, {_fmt(mixed['audio_s'])} s of audio, longest "
            f"{_fmt(mixed['longest_s'])} s; drain (close -> server close) {_fmt(mixed['drain_ms'])}"
            f" ms; overload trips at the server: {mixed.get('overload_trips', '-')}."
        )
        rows = []
        base = mixed.get("baseline")
        if base:
            at = ("mixed", "baseline")
            rows.append(
                ["baseline (Cartesia example)", 1, ranged(base["wall_s"], runs, *at, "wall_s"),
                 None, None, base["ideal_s"], ranged(base["efficiency"], runs, *at, "efficiency"),
                 None, "1.00", f"{base['exact']}/{mixed['files']}", None, None,
                 _rate(base["send_rate_mean"])]
            )  # fmt: skip
        for key, row in mixed.get("jobrunner", {}).items():
            c, _, order = key.partition(" ")
            at = ("mixed", "jobrunner", key)
            rows.append(
                [f"jobrunner run -c {c}{', ' + order if order else ''}", int(c),
                 ranged(row["wall_s"], runs, *at, "wall_s"),
                 ranged(row.get("startup_s"), runs, *at, "startup_s"),
                 ranged(row.get("sessions_s"), runs, *at, "sessions_s"), row["ideal_s"],
                 ranged(row["efficiency"], runs, *at, "efficiency"), row.get("order_bound"),
                 ranged(row.get("vs_baseline"), runs, *at, "vs_baseline"),
                 f"{row['exact']}/{row['files']}", row["cpu_pct"], row["rss_max_mib"],
                 _rate(row["send_rate_mean"])]
            )  # fmt: skip
        header = ["client", "concurrency", "makespan s", "of which start-up s",
                  "first session start to last end s", "ideal s", "ideal/actual",
                  "best for this order", "time vs baseline", "exact", "CPU % (1 core)",
                  "peak RSS MiB", "send rate"]  # fmt: skip
        out.append(f"Median of the runs, with their range in brackets ({_runs(runs)}).\n")
        out.append(table(header, rows))
        if "jobrunner_missing" in mixed:
            out.append(f"\n_{mixed['jobrunner_missing']}_")
    return "\n".join(out)


def render_pacing(result: dict[str, Any], runs: list[Any]) -> str:
    rows = []
    for i, lv in enumerate(result["levels"]):
        at = ("levels", i)
        rows.append(
            [lv["sessions"], lv.get("processes", 1), lv["engine"], f"{lv['ok']}/{lv['sessions']}",
             ranged(lv["send_rate_mean"], runs, *at, "send_rate_mean", fmt=_rate),
             _rate(lv["send_rate_min"]), lv["max_lead_ms"], lv["lateness_p50_ms"],
             ranged(lv["lateness_p99_ms"], runs, *at, "lateness_p99_ms"), lv["lateness_max_ms"],
             lv.get("steady_lateness_p50_ms"),
             ranged(lv.get("steady_lateness_p99_ms"), runs, *at, "steady_lateness_p99_ms"),
             ranged(lv.get("loop_lag_p99_ms"), runs, *at, "loop_lag_p99_ms"),
             lv["overload_trips"], ranged(lv["cpu_pct"], runs, *at, "cpu_pct", fmt=_pct),
             _pct(lv["server_cpu_pct"])]
        )  # fmt: skip
    header = ["sessions", "client processes", "server engine", "ok", "send rate mean", "min",
              "max lead ms", "lateness p50 ms", "p99 ms", "max ms", "steady p50 ms",
              "steady p99 ms", "loop lag p99 ms", "overload trips", "client CPU",
              "server CPU"]  # fmt: skip
    return (
        f"Median of the runs, with their range in brackets ({_runs(runs)}). "
        f"{_fmt(result['file_s'])} s per session, all sessions start together. Lateness over "
        "every chunk of every session; *steady*: only chunks sent while all sessions were "
        "streaming (no connects or closes in flight). *Loop lag*: how late a 10 ms sleep in "
        "the client's event loop woke (worst process). CPU % of one core (sum over client "
        "processes), steady window.\n\n" + table(header, rows)
    )


def _p99(level: dict[str, Any]) -> str:
    """Pooled p99 over all chunks (session processes), or the median and worst session's p99
    (``jobrunner run`` stores percentiles per attempt only)."""
    if level.get("lateness_p99_ms") is not None:
        return _fmt(level["lateness_p99_ms"])
    median_p99, worst = level.get("p99_lateness_ms_median"), level.get("p99_lateness_ms_max")
    return f"{_fmt(median_p99)} (worst session {_fmt(worst)})"


def render_resources(result: dict[str, Any], runs: list[Any]) -> str:
    rows = []
    for lv in result["levels"]:
        rows.append(
            [lv["client"], lv["sessions"], _pct(lv.get("cpu_pct")),
             _pct(None if lv.get("cpu_pct") is None else lv["cpu_pct"] / 2),
             lv.get("rss_idle_mib"), lv.get("rss_steady_mib"), lv.get("rss_per_session_kib"),
             _rate(lv.get("send_rate_mean")), _p99(lv)]
        )  # fmt: skip
    out = [
        f"{_fmt(result['file_s'])} s files; CPU in the steady window (all sessions streaming).\n",
        table(
            [
                "client",
                "sessions",
                "CPU (1 core)",
                "of the machine",
                "RSS idle MiB",
                "RSS steady MiB",
                "RSS per session KiB",
                "send rate",
                "p99 lateness ms (run: median session)",
            ],
            rows,
        ),  # fmt: skip
    ]
    long = result.get("long_file")
    if long:
        out.append(
            f"\nOne {_fmt(long['audio_h'])} h file via {long['via']} at pace {_fmt(long['pace'])} "
            f"(server overload check off), {_fmt(long['wall_s'])} s wall, transcript exact: "
            f"{long['exact']}. RSS at 10 % / 50 % / 100 % of the file: "
            f"{_fmt(long['rss_10pct_mib'])} / {_fmt(long['rss_50pct_mib'])} / "
            f"{_fmt(long['rss_100pct_mib'])} MiB (max {_fmt(long['rss_max_mib'])}); slope over "
            f"the last 90 %: {_fmt(long['slope_mib_per_audio_h'])} MiB per audio hour, with "
            f"{_fmt(long.get('turns'))} turns kept for the result "
            f"({_fmt(long.get('slope_bytes_per_turn'))} bytes of growth per turn)."
        )
    return "\n".join(out)


def render_scaling(result: dict[str, Any], runs: list[Any]) -> str:
    if "missing" in result:
        return f"_{result['missing']}_"
    rows = []
    for i, lv in enumerate(result["levels"]):
        rows.append(
            [lv["concurrency"], lv["files"], lv["wall_s"], lv.get("startup_s"),
             lv.get("sessions_s"), lv["ideal_s"], lv["efficiency"],
             spread(runs, "levels", i, "efficiency"), _pct(lv["cpu_pct"]),
             _pct(lv.get("cpu_pct_steady")), _pct(lv.get("server_cpu_pct_steady")),
             lv["rss_max_mib"], _rate(lv["send_rate_mean"]), lv["p99_lateness_ms_median"],
             lv["p99_lateness_ms_max"], f"{lv['succeeded']}/{lv['files']}"]
        )  # fmt: skip
    header = ["concurrency", "files", "makespan s", "of which start-up s",
              "first session start to last end s", "ideal s", "ideal/actual", "range",
              "CPU whole run", "CPU steady", "server CPU steady", "peak RSS MiB", "send rate",
              "p99 lateness ms (median session)", "(worst session)", "succeeded"]  # fmt: skip
    out = [
        f"{result['files_per_slot']} files of {_fmt(result['file_s'])} s per slot; knee (first "
        f"level whose makespan is > 5 % above the previous one's): {result.get('knee') or 'none'}"
        ". CPU % of one core; *steady*: while all sessions stream.\n",
        table(header, rows),
    ]
    prof = result.get("profile")
    if prof and prof.get("samples"):
        out.append(
            f"\nProfile of `jobrunner run -c {prof['concurrency']}` (py-spy --gil, "
            f"{prof['samples']} samples; share of GIL-holding samples):\n"
        )
        out.append(
            table(
                ["function (self)", "self %", "function (total)", "total %"],
                [
                    [a[0], a[1], b[0], b[1]]
                    for a, b in zip(prof["self"], prof["total"], strict=False)
                ],
            )
        )
    elif prof:
        out.append(f"\nProfile: {prof.get('error', 'no samples')}")
    return "\n".join(out)


def render_enqueue(result: dict[str, Any], runs: list[Any]) -> str:
    return table(
        ["figure", "value", "rounds"],
        [
            [f"enqueue files/s ({result['enqueue_files']:,} files: walk, probe, hash, insert)",
             result["enqueue_files_per_s"], result.get("enqueue_rounds")],
            [f"claim+complete jobs/s (SQLite, {result['claim_workers']} processes, "
             f"{result['claim_jobs']:,} jobs)",
             result["claim_complete_jobs_per_s"], result.get("claim_rounds")],
        ],
    )  # fmt: skip


def render_generic(result: Any, runs: list[Any]) -> str:
    rows: list[list[Any]] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list) and node and all(_is_number(x) for x in node):
            rows.append([prefix, ", ".join(_fmt(x) for x in node)])
        elif isinstance(node, list | tuple) and node and isinstance(node[0], dict):
            for i, value in enumerate(node):
                walk(value, f"{prefix}[{i}]")
        elif not isinstance(node, list | tuple) or len(node) <= 8:
            rows.append([prefix, node])

    walk(result, "")
    return table(["figure", "value"], rows)


def _dig(results: dict[str, Any], *path: str | int) -> Any:
    node: Any = results
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _level(results: dict[str, Any], name: str, sessions: int, **match: Any) -> Any:
    levels = _dig(results, name, "merged", "levels") or []
    for level in levels:
        if level.get("sessions") == sessions and all(
            level.get(k, 1 if k == "processes" else None) == v for k, v in match.items()
        ):
            return level
    return None


def render_targets(results: dict[str, Any]) -> str:
    """The issue's targets next to the measured medians (``results``: name -> entry)."""
    rows: list[list[Any]] = []

    def add(target: str, value: Any, ok: bool | None, where: str) -> None:
        verdict = "-" if ok is None or value is None else ("met" if ok else "**missed**")
        rows.append([target, value, verdict, where])

    for key in ("8", "32"):
        eff = _dig(results, "makespan", "merged", "mixed", "jobrunner", key, "efficiency")
        if eff:
            add(f"makespan >= 0.97 of ideal at concurrency {key}", f"{eff:.3f} of ideal",
                eff >= 0.97, "makespan, default order (longest first)")  # fmt: skip
    split = _dig(results, "split", "merged", "split")
    if split:
        add("two 30-min files at -c 8, split: makespan <= 1.05 x ideal",
            f"{split['vs_ideal']:.3f} x ideal ({split['pieces']} pieces)",
            split["vs_ideal"] <= 1.05, "split")  # fmt: skip
    words = _dig(results, "split", "merged", "whisper")
    if words and words.get("wer_points") is not None:
        add("whisper WER, split vs unsplit, within 1 point",
            f"{words['wer_points']:+.2f} points ({100 * words['unsplit']['wer']:.2f} % -> "
            f"{100 * words['split']['wer']:.2f} %)", abs(words["wer_points"]) <= 1,
            "split, whisper engine")  # fmt: skip
    for pace in [_level(results, "pacing", 1000, processes=p) for p in (1, 2)]:
        if not pace:
            continue
        count = pace.get("processes", 1)
        where = f"pacing, {count} client process{'es' if count > 1 else ''}"
        rate_ok = abs(pace["send_rate_mean"] - 1) <= 0.01 and pace["send_rate_min"] >= 0.99
        add("send rate within 1 % at 1,000 sessions",
            f"mean {pace['send_rate_mean']:.4f}, min {pace['send_rate_min']:.4f}", rate_ok,
            where)  # fmt: skip
        add("p99 chunk lateness < 20 ms at 1,000", f"{_fmt(pace['lateness_p99_ms'])} ms",
            pace["lateness_p99_ms"] < 20, where)  # fmt: skip
        add("overload trips at the server: 0", pace["overload_trips"],
            pace["overload_trips"] == 0, where)  # fmt: skip
    run1000 = _level(results, "resources", 1000, client="jobrunner run")
    bare1000 = _level(results, "resources", 1000, client="transcribe_file x N")
    for level in (run1000, bare1000):
        if level and level.get("cpu_pct") is not None:
            add("CPU < 60 % of the 2 cores at 1,000 sessions",
                f"{level['cpu_pct'] / 2:.0f} % ({level['cpu_pct']:.0f} % of one core)",
                level["cpu_pct"] / 2 < 60, f"resources, {level['client']}")  # fmt: skip
    for level in (run1000, bare1000):
        if level and level.get("rss_per_session_kib") is not None:
            add(
                "<= 1 MiB RSS per live session",
                f"{_fmt(level['rss_per_session_kib'])} KiB",
                level["rss_per_session_kib"] <= 1024,
                f"resources, {level['client']}, 1,000",
            )
    enq = _dig(results, "enqueue", "merged", "enqueue_files_per_s")
    if enq is not None:
        add("enqueue >= 2,000 files/s", f"{enq:,.0f} files/s", enq >= 2000, "enqueue")
    export = _dig(results, "export", "merged") or {}
    rates = {k: v["turns_per_s"] for k, v in export.items() if isinstance(v, dict)
             and "turns_per_s" in v}  # fmt: skip
    if rates:
        slowest = min(rates, key=rates.__getitem__)
        add("export >= 50,000 turns/s", f"{rates[slowest]:,} turns/s (slowest: {slowest})",
            rates[slowest] >= 50_000, "export")  # fmt: skip
    for size in _dig(results, "report_speed", "merged", "sizes") or []:
        if size.get("files") == 1000 and "cli_s" in size:
            add("`jobrunner report` on 1,000 files < 10 s", f"{size['cli_s']:.1f} s",
                size["cli_s"] < 10, "report_speed, new process, with references")  # fmt: skip
    speech = _dig(results, "speechmap", "merged") or {}
    if speech.get("share_within") is not None:
        share = speech["share_within"]
        add("speech times within 150 ms of the truth for >= 95 % of turns (whisper engine)",
            f"{100 * share:.1f} % of {speech['turns']} turns", share >= 0.95,
            "speechmap")  # fmt: skip
    for command in _dig(results, "startup", "merged", "commands") or []:
        if command.get("target_s") is not None:
            add(f"`{command['command']}` < {command['target_s']} s wall",
                f"{command['wall_s_median']:.3f} s (CPU {command['cpu_s_median']:.3f} s)",
                command["wall_s_median"] < command["target_s"], "startup")  # fmt: skip
    if not rows:
        return "_no results yet_"
    return table(["target", "measured (median)", "", "from"], rows)


RENDERERS: dict[str, Callable[[Any, list[Any]], str]] = {
    "makespan": render_makespan,
    "pacing": render_pacing,
    "processes": render_pacing,  # the knee of run --processes auto (bench/pacing.py --knee)
    "resources": render_resources,
    "scaling": render_scaling,
    "enqueue": render_enqueue,
    "vad": lambda result, runs: _vad().render(result, runs),
    "report_speed": lambda result, runs: _report_speed().render(result, runs),
    "speechmap": lambda result, runs: _speechmap().render(result, runs),
    "split": lambda result, runs: _bench("split").render(result, runs),
    "pauses": lambda result, runs: _bench("pauses").render(result, runs),
    "endpoints": lambda result, runs: _bench("endpoints").render(result, runs),
}


def _bench(name: str) -> Any:
    """A benchmark module that renders its own section, imported when it is rendered."""
    return importlib.import_module(f"bench.{name}")


def _vad() -> Any:
    """bench.vad imports the detector (numpy, soundfile): only when its section is rendered."""
    import bench.vad

    return bench.vad


def _report_speed() -> Any:
    """bench.report_speed imports jobrunner.report and the test helpers: only when rendered."""
    import bench.report_speed

    return bench.report_speed


def _speechmap() -> Any:
    """bench.speechmap imports the server and the recognizer registry: only when rendered."""
    import bench.speechmap

    return bench.speechmap


def _pauses() -> Any:
    """bench.pauses imports the detector and the server's turn detector: only when rendered."""
    import bench.pauses

    return bench.pauses


def render(name: str, result: Any, runs: list[Any]) -> str:
    renderer = RENDERERS.get(name, render_generic)
    try:
        return renderer(result, runs)
    except (KeyError, TypeError, IndexError):  # a result of another shape: still show it
        return render_generic(result, runs)


def write_markdown(
    target: Path,
    command: str,
    machine: dict[str, Any],
    sections: dict[str, str],
    repeats: str,
    targets: str,
) -> None:
    """Fill the template's ``{{...}}`` slots and write ``target``."""
    text = TEMPLATE.read_text(encoding="utf-8")
    machine_line = (
        f"{machine['cores']} cores ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"Python {machine['python']}, {machine['os']}; load average at start "
        f"{machine.get('load', '-')}"
    )
    slots = {
        "targets": targets,
        "command": command,
        "machine": machine_line,
        "date": machine["date"],
        "repeats": repeats,
    }
    for name in SECTIONS:
        slots[name] = sections.get(name, "_not run in this invocation_")
    slots["other"] = (
        "\n\n".join(
            f"### {name}\n\n{body}" for name, body in sections.items() if name not in SECTIONS
        )
        or "_none_"
    )
    for key, value in slots.items():
        text = text.replace("{{" + key + "}}", value)
    target.write_text(text, encoding="utf-8")
