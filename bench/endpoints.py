"""The three endpoints on one folder: wall time, WER and turn latency; Batch throughput and RSS.

    python bench/endpoints.py            # ../shared/speech through each endpoint (a few minutes)
    python bench/endpoints.py --smoke    # three files, the 1-hour file as 2 minutes
    python -m bench endpoints --write    # through the benchmark runner, into BENCHMARKS.md

What a user does, as subprocesses against ``jobrunner serve --engine whisper`` (the real offline
recognizer, in this process): ``jobrunner enqueue --endpoint E`` the folder, ``jobrunner run``
(Auto and Manual at realtime with ``-c 4``; Batch with ``-c 8``, no pacing), ``jobrunner
export``. Manual runs once per finalize hangover (200, 300, 500 ms). Per run: wall time, WER of
the transcripts against ``texts.tsv`` (Whisper's English normalizer, as ``jobrunner report``),
and p50/p90 of the turns' ``end_latency_s`` (from the end of mapped speech to the turn's end
event: Auto's ``turn.end``, Manual's last final). Batch throughput is files per second and
audio-hours per wall-hour of its run. First, a one-hour file of tone-engine speech through
Batch and through Auto against ``--engine tones``: the client's peak RSS (``VmHWM``), which
stays small only if the upload is streamed from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import child_env, jobrunner, machine, rounded, run_checked  # noqa: E402
from jobrunner.report.accuracy import word_counts  # noqa: E402
from jobrunner.server import LocalServer, ServerConfig  # noqa: E402
from jobrunner.server.recognizer import get_recognizer  # noqa: E402
from jobrunner.timing.latency import Latencies  # noqa: E402

SPEECH = Path(os.environ.get("JOBRUNNER_SPEECH", ROOT.parent / "shared" / "speech"))
SMOKE_FILES = ("s03_fox.wav", "short_turns.wav", "real/librivox_0880.wav")
HANGOVERS_MS = (200, 300, 500)
LONG_S, SMOKE_LONG_S = 3600.0, 120.0


def references() -> dict[str, str]:
    lines = (SPEECH / "texts.tsv").read_text("utf-8").splitlines()
    pairs = (line.split("\t", 1) for line in lines if "\t" in line)
    return {name: text.replace(" | ", " ") for name, text in pairs}


def names(smoke: bool) -> list[str]:
    if smoke:
        return list(SMOKE_FILES)
    known = references()
    return sorted(n for n in known if (SPEECH / n).is_file())


def _copy(selected: list[str], folder: Path) -> None:
    for name in selected:
        target = folder / name.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPEECH / name, target)


def one_run(
    folder: Path, url: str, root: Path, endpoint: str, *, hangover_ms: int = 300
) -> dict[str, Any]:
    """One endpoint over ``folder`` in a fresh queue; what it measured."""
    db = f"sqlite:///{root / f'{endpoint}-{hangover_ms}.db'}"
    env = child_env()
    profile = root / f"{endpoint}-{hangover_ms}.toml"
    profile.write_text(
        f'[service]\nbase_url = "{url}"\nendpoint = "{endpoint}"\n'
        f"[manual]\nfinalize_hangover_ms = {hangover_ms}\n"
    )
    run_checked(jobrunner("--db", db, "--profile", str(profile), "enqueue", str(folder)), env=env)
    concurrency = "8" if endpoint == "batch" else "4"
    started = time.monotonic()
    summary = run_checked(
        jobrunner(
            "--db", db, "--profile", str(profile), "run", "-c", concurrency, "--pace", "1",
            "--json", "--no-progress",
        ),
        env=env,
    )  # fmt: skip
    wall = time.monotonic() - started
    outcome = json.loads(summary.splitlines()[-1])
    files = [
        json.loads(x)
        for x in run_checked(jobrunner("--db", db, "export"), env=env).split("\n")
        if x
    ]
    turns = [
        json.loads(x)
        for x in run_checked(jobrunner("--db", db, "export", "--by", "turn"), env=env).split("\n")
        if x
    ]
    known = references()
    errors = ref_words = 0
    for job in files:
        name = Path(job["path"]).name.replace("__", "/")
        counts = word_counts(known.get(name, ""), job["transcript"] or "")
        errors, ref_words = errors + counts.errors, ref_words + counts.ref_words
    end = Latencies.of(t["end_latency_s"] for t in turns)
    audio_s = sum(job["duration_s"] or 0 for job in files)
    return {
        "endpoint": endpoint,
        "hangover_ms": hangover_ms if endpoint == "manual" else None,
        "files": len(files),
        "succeeded": outcome["succeeded"],
        "audio_s": rounded(audio_s, 1),
        "wall_s": rounded(wall, 1),
        "wer": rounded(errors / ref_words, 4) if ref_words else None,
        "turns": len(turns),
        "end_latency_p50_s": end.p50_s,
        "end_latency_p90_s": end.p90_s,
        "turns_with_end_latency": end.turns,
        "files_per_s": rounded(len(files) / wall, 3),
        "audio_h_per_wall_h": rounded(audio_s / wall, 1),
    }


def _long_wav(path: Path, seconds: float) -> Path:
    """``seconds`` of tone-engine speech, written block by block (never whole in memory)."""
    import soundfile

    from jobrunner.server.tones.codec import synthesize

    block = synthesize(["Hello there.", " How are you?", " Fine, thanks."], 16000)
    frames = int(seconds * 16000)
    with soundfile.SoundFile(path, "w", 16000, 1, "PCM_16") as out:
        while frames > 0:
            out.write(block[:frames])
            frames -= len(block)
    return path


def _peak_rss(pid: int) -> int:
    """The process's peak RSS since its exec (``VmHWM``), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _run_peak(argv: list[str], env: dict[str, str]) -> tuple[str, int]:
    """Run ``argv``; its stdout and its peak RSS (``VmHWM``, polled: ``wait4``'s figure would
    include this process's memory at the fork)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    with proc:
        while proc.poll() is None:
            peak = max(peak, _peak_rss(proc.pid))
            time.sleep(0.05)
        out = proc.stdout.read().decode() if proc.stdout is not None else ""
    return out, peak


def long_file_rss(root: Path, seconds: float) -> dict[str, Any]:
    """Peak RSS of ``jobrunner run`` with one ``seconds``-long file, through Batch and, for
    comparison, through Auto (streamed in chunks, at 50x against the tones engine)."""
    path = _long_wav(root / "long.wav", seconds)
    env = child_env()
    found: dict[str, Any] = {
        "seconds": seconds,
        "file_mib": rounded(path.stat().st_size / 2**20, 1),
    }
    with LocalServer(
        ServerConfig(port=0, engine="tones", max_rate=0.0), get_recognizer("tones")
    ) as server:
        for endpoint in ("batch", "auto"):
            db = f"sqlite:///{root / f'long-{endpoint}.db'}"
            run_checked(
                jobrunner("--db", db, "enqueue", "--endpoint", endpoint, str(path)), env=env
            )
            argv = jobrunner(
                "--db", db, "--profile", "local", "run", "--base-url", server.url, "--json",
                "--no-progress", "--pace", "50",
            )  # fmt: skip
            started = time.monotonic()
            out, peak = _run_peak(argv, env)
            outcome = json.loads(out.splitlines()[-1])
            found[endpoint] = {
                "succeeded": outcome["succeeded"],
                "wall_s": rounded(time.monotonic() - started, 1),
                "peak_rss_mib": rounded(peak / 2**20, 1),
            }
    return found


def run(smoke: bool = False) -> dict[str, Any]:
    selected = names(smoke)
    with tempfile.TemporaryDirectory(prefix="bench-endpoints-") as tmp:
        root = Path(tmp)
        rss = long_file_rss(root, SMOKE_LONG_S if smoke else LONG_S)
        folder = root / "audio"
        _copy(selected, folder)
        engine = get_recognizer("whisper")  # the models load before anything is timed
        with LocalServer(ServerConfig(port=0, engine="whisper"), engine) as server:
            runs = [one_run(folder, server.url, root, "auto")]
            runs += [
                one_run(folder, server.url, root, "manual", hangover_ms=h) for h in HANGOVERS_MS
            ]
            runs.append(one_run(folder, server.url, root, "batch"))
    box = machine()
    return {
        "machine": f"{box['cores']} cores ({box['cpu']}), {box['ram_gib']} GiB RAM",
        "runs": runs,
        "long_file": rss,
    }


def render(result: dict[str, Any], runs: list[Any] | None = None) -> str:
    """Markdown for ``bench/report.py``'s ``RENDERERS["endpoints"]``."""
    rows = result["runs"]
    first = rows[0]
    lines = [
        f"{first['files']} files ({first['audio_s']} s of audio) of `../shared/speech` through "
        f"each endpoint against `jobrunner serve --engine whisper` (on {result['machine']}); "
        "Auto and Manual at realtime with `-c 4`, Batch with `-c 8`.",
        "",
        "| endpoint | succeeded | wall s | WER | turns | end_latency_s p50 / p90 (turns) "
        "| files/s | audio-h per wall-h |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = r["endpoint"] + (f" ({r['hangover_ms']} ms)" if r["hangover_ms"] else "")
        wer = "-" if r["wer"] is None else f"{100 * r['wer']:.1f} %"
        lines.append(
            f"| {name} | {r['succeeded']}/{r['files']} | {r['wall_s']} | {wer} | {r['turns']} | "
            f"{r['end_latency_p50_s']} / {r['end_latency_p90_s']} "
            f"({r.get('turns_with_end_latency', '?')}) | {r['files_per_s']} | "
            f"{r['audio_h_per_wall_h']} |"
        )
    long = result["long_file"]
    batch, auto = long["batch"], long["auto"]
    lines += [
        "",
        f"One {long['seconds'] / 60:g}-minute file ({long['file_mib']} MiB) against "
        "`--engine tones`: peak RSS of `jobrunner run` (`VmHWM`) "
        f"{batch['peak_rss_mib']} MiB through Batch ({batch['wall_s']} s, succeeded: "
        f"{batch['succeeded']}), {auto['peak_rss_mib']} MiB through Auto at 50x "
        f"({auto['wall_s']} s, succeeded: {auto['succeeded']}).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="three files, a 2-minute long file")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    res = run(smoke=args.smoke)
    print(render(res))
    if args.json:
        print(json.dumps(res, indent=1))
