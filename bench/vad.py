"""Choose the speech map's voice-activity detector by measurement, on ``../shared/speech``.

    python bench/vad.py             # every candidate installed here (under a minute)
    python bench/vad.py --smoke     # three files, short speed runs (seconds)
    python -m bench vad --write     # through the benchmark runner (once wired, see render)

Boundary error: every file of ``segments.json`` (13 files, 17 true segments: synthesized
speech with digital silence and LibriVox read speech with its own room noise), clean and with
noise mixed in at 20 dB and 10 dB SNR (speech power over the true segments against noise
power). The noise is deterministic: white and pink (1/f, shaped in the frequency domain),
each seeded from the file name, kind and SNR; each SNR pools both kinds. For every true
segment, the start of the first detected segment overlapping it and the end of the last one
are compared with the truth; a true segment nothing overlaps is *missed*, a detected segment
overlapping no true one is *false*. Raw detectors are scored as the issue's baseline was:
frame flags, gaps shorter than 0.3 s merged.

Noise-only: seconds flagged as speech in 30 s of white noise, pink noise, white noise whose
level jumps by up to +-10 dB every 2 s, and digital silence.

Speed: audio seconds per CPU second (``time.process_time``, the whole process, so threads
count) on a 16 kHz signal, after a warm-up; ``map_file`` end to end (decode + detector) for
the chosen one. Install weight: MB on disk of the distributions a candidate adds to the
default install (``importlib.metadata``), plus Debian packages where a bundled library needs
them.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobrunner.audio import vad  # noqa: E402
from jobrunner.audio.speechmap import map_file  # noqa: E402

SPEECH = Path(os.environ.get("JOBRUNNER_SPEECH", ROOT.parent / "shared" / "speech"))
RATE = 16_000
MERGE_GAP_S = 0.3
SNRS = (20.0, 10.0)
NOISES = ("white", "pink")
SMOKE_FILES = ("two_sent_1p5s.wav", "short_turns.wav", "real/librivox_0880.wav")
TARGETS = {"mae_ms": 60, "p95_clean_ms": 150, "p95_10db_ms": 250, "xrt": 200}

Detect = Callable[[np.ndarray], list[tuple[float, float]]]


@dataclass
class Candidate:
    name: str
    detect: Detect
    install: dict[str, Any]
    note: str = ""


# --- corpus and noise ------------------------------------------------------------------------


def load_corpus(names: Sequence[str] | None = None) -> list[tuple[str, np.ndarray, list]]:
    truth = json.loads((SPEECH / "segments.json").read_text())
    out = []
    for name in names or list(truth):
        audio, rate = sf.read(SPEECH / name, dtype="float32", always_2d=True)
        if rate != RATE:
            raise SystemExit(f"{name}: {rate} Hz, expected {RATE}")
        out.append((name, audio.mean(axis=1), [(float(a), float(b)) for a, b in truth[name]]))
    return out


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(spectrum.size, dtype=np.float64)
    k[0] = 1.0
    pink = np.fft.irfft(spectrum / np.sqrt(k), n)
    return pink / pink.std()


def with_noise(name: str, audio: np.ndarray, spans: list, kind: str, snr_db: float) -> np.ndarray:
    """``audio`` plus seeded ``kind`` noise at ``snr_db`` (speech power over the true spans)."""
    rng = np.random.default_rng(zlib.crc32(f"{name}|{kind}|{snr_db:g}".encode()))
    speech = np.concatenate([audio[int(a * RATE) : int(b * RATE)] for a, b in spans])
    power = float(np.mean(speech.astype(np.float64) ** 2))
    noise = rng.standard_normal(audio.size) if kind == "white" else pink_noise(audio.size, rng)
    return (audio + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def noise_only() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    n = RATE * 30
    white = (rng.standard_normal(n) * 0.01).astype(np.float32)
    steps = np.repeat(10 ** rng.uniform(-0.5, 0.5, 15), 2 * RATE)[:n].astype(np.float32)
    return {
        "white": white,
        "pink": (pink_noise(n, rng) * 0.01).astype(np.float32),
        "stepped": white * steps,
        "silence": np.zeros(RATE * 5, dtype=np.float32),
    }


# --- scoring ---------------------------------------------------------------------------------


def flags_to_segments(flags: Sequence[bool] | np.ndarray, frame_s: float) -> list:
    """Runs of true flags -> (start, end) seconds, gaps < 0.3 s merged (the baseline rule)."""
    segments: list[tuple[float, float]] = []
    start = None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            a, b = start * frame_s, i * frame_s
            if segments and a - segments[-1][1] < MERGE_GAP_S:
                segments[-1] = (segments[-1][0], b)
            else:
                segments.append((a, b))
            start = None
    return segments


def match(truth: list, found: list) -> tuple[list[float], list[float], int, int]:
    starts, ends, missed = [], [], 0
    for a, b in truth:
        overlapping = [s for s in found if s[1] > a and s[0] < b]
        if not overlapping:
            missed += 1
            continue
        starts.append(overlapping[0][0] - a)
        ends.append(overlapping[-1][1] - b)
    false = sum(1 for s in found if not any(s[1] > a and s[0] < b for a, b in truth))
    return starts, ends, missed, false


def _ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mae_ms": None, "p95_ms": None, "bias_ms": None}
    err = np.abs(np.asarray(values)) * 1000
    return {
        "mae_ms": round(float(err.mean()), 1),
        "p95_ms": round(float(np.percentile(err, 95)), 1),
        "bias_ms": round(statistics.fmean(values) * 1000, 1),
    }


def accuracy(detect: Detect, corpus: list) -> dict[str, Any]:
    conditions: list[tuple[str, list[tuple[str | None, float | None]]]] = [
        ("clean", [(None, None)]),
        *[(f"{snr:g}dB", [(kind, snr) for kind in NOISES]) for snr in SNRS],
    ]
    out: dict[str, Any] = {}
    for label, variants in conditions:
        starts: list[float] = []
        ends: list[float] = []
        missed = false = 0
        for kind, snr in variants:
            for name, audio, spans in corpus:
                signal = audio if kind is None else with_noise(name, audio, spans, kind, snr or 0)
                s, e, m, f = match(spans, detect(signal))
                starts += s
                ends += e
                missed += m
                false += f
        out[label] = {
            "start": _ms(starts),
            "end": _ms(ends),
            "segments": sum(len(spans) for _, _, spans in corpus) * len(variants),
            "missed": missed,
            "false": false,
        }
    return out


def speed(detect: Detect, seconds: float) -> float:
    """Audio seconds per CPU second on a noisy speech signal of ``seconds``."""
    corpus = load_corpus()
    pieces = [with_noise(n, a, s, "pink", 20.0) for n, a, s in corpus]
    one = np.concatenate(pieces)
    signal = np.tile(one, int(np.ceil(seconds * RATE / one.size)))[: int(seconds * RATE)]
    detect(signal[: RATE * 2])  # warm-up: model loads, caches
    rates = []
    for _ in range(3):  # the median of three: the machine is shared
        cpu = time.process_time()
        detect(signal)
        rates.append(signal.size / RATE / max(time.process_time() - cpu, 1e-9))
    return round(statistics.median(rates), 1)


def map_file_speed(seconds: float) -> float:
    """``map_file`` end to end on a 16 kHz PCM_16 WAV of ``seconds`` (decode + detect)."""
    corpus = load_corpus()
    one = np.concatenate([with_noise(n, a, s, "pink", 20.0) for n, a, s in corpus])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as out:
            written = 0
            while written < seconds * RATE:
                out.write(one)
                written += one.size
        map_file(path)  # warm-up
        rates = []
        for _ in range(3):
            cpu = time.process_time()
            result = map_file(path)
            rates.append(result.duration_s / max(time.process_time() - cpu, 1e-9))
        return round(statistics.median(rates), 1)


def false_alarms(detect: Detect) -> dict[str, float]:
    return {
        kind: round(sum(b - a for a, b in detect(signal)), 2)
        for kind, signal in noise_only().items()
    }


# --- install weight --------------------------------------------------------------------------


def _dist_bytes(name: str) -> int:
    dist = md.distribution(name)
    total = 0
    for file in dist.files or []:
        try:
            total += Path(str(dist.locate_file(file))).stat().st_size
        except OSError:
            pass
    return total


def _requires(name: str) -> list[str]:
    names = []
    for req in md.distribution(name).requires or []:
        if "extra ==" in req:
            continue
        found = re.match(r"[A-Za-z0-9_.\-]+", req)
        if found:
            names.append(found.group(0))
    return names


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += _requires(name)
        except md.PackageNotFoundError:
            pass
    return seen


def install_weight(dists: Sequence[str], debian: Sequence[str] = ()) -> dict[str, Any]:
    """MB the distributions add to the default install (with their requirements)."""
    default = _closure(["jobrunner"])
    extra = sorted(_closure(dists) - default)
    sizes = {}
    for name in extra:
        try:
            sizes[name] = round(_dist_bytes(name) / 1e6, 2)
        except md.PackageNotFoundError:
            sizes[name] = None
    deb_kb = 0
    for package in debian:
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Installed-Size}", package],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            deb_kb += int(out or 0)
        except (OSError, ValueError):
            pass
    return {
        "pip_mb": round(sum(v or 0 for v in sizes.values()), 1),
        "pulls_in": sizes,
        "debian": list(debian),
        "debian_mb": round(deb_kb / 1000, 1) if debian else 0.0,
    }


# --- candidates ------------------------------------------------------------------------------


def _pcm16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(audio * 32768), -32768, 32767).astype(np.int16)


def candidates() -> tuple[list[Candidate], dict[str, str]]:
    found: list[Candidate] = []
    missing: dict[str, str] = {}

    def spectral(params: vad.VadParams) -> Detect:
        def detect(audio: np.ndarray) -> list[tuple[float, float]]:
            return [(s.start_s, s.end_s) for s in vad.detect(audio, RATE, params)]

        return detect

    found.append(
        Candidate(
            "spectral (chosen: numpy, hysteresis refinement)",
            spectral(vad.DEFAULT_PARAMS),
            install_weight([]),
            f"{vad.detector_id()}",
        )
    )
    single = vad.VadParams(extend_db=vad.DEFAULT_PARAMS.threshold_db)
    found.append(
        Candidate(
            "spectral, one threshold (no refinement)",
            spectral(single),
            install_weight([]),
            "ablation: edges where the SNR drops below the detection threshold",
        )
    )
    try:
        import webrtcvad

        def webrtc(audio: np.ndarray) -> list[tuple[float, float]]:
            detector = webrtcvad.Vad(3)
            step = RATE // 100
            pcm = _pcm16(audio).tobytes()
            flags = [
                detector.is_speech(pcm[i * 2 : (i + step) * 2], RATE)
                for i in range(0, audio.size - step + 1, step)
            ]
            return flags_to_segments(flags, step / RATE)

        found.append(
            Candidate(
                "webrtcvad-wheels (mode 3, 10 ms)", webrtc, install_weight(["webrtcvad-wheels"])
            )
        )
    except ImportError as exc:
        missing["webrtcvad-wheels"] = str(exc)
    try:
        from ten_vad import TenVad

        TenVad()  # loads the bundled .so: fails without Debian's libc++1

        def ten(audio: np.ndarray) -> list[tuple[float, float]]:
            detector = TenVad(256, 0.5)
            pcm = _pcm16(audio)
            flags = [detector.process(pcm[i : i + 256])[1] for i in range(0, pcm.size - 255, 256)]
            return flags_to_segments(flags, 256 / RATE)

        found.append(
            Candidate(
                "ten-vad (hop 16 ms, threshold 0.5)",
                ten,
                install_weight(["ten-vad"], ["libc++1-14", "libc++abi1-14", "libunwind-14"]),
                "bundled .so needs Debian's libc++1 (fails to load without it)",
            )
        )
    except Exception as exc:  # ImportError, or OSError/AttributeError from the .so
        missing["ten-vad"] = f"{type(exc).__name__}: {exc}"
    try:
        from jobrunner.server.silero import FRAME_SAMPLES, shared_model

        model = shared_model()

        def silero(audio: np.ndarray) -> list[tuple[float, float]]:
            probs = model.stream().probabilities(audio)
            return flags_to_segments(probs > 0.5, FRAME_SAMPLES / RATE)

        found.append(
            Candidate(
                "silero v6 on onnxruntime (threshold 0.5, 32 ms)",
                silero,
                install_weight(["onnxruntime"]),
                "model file from faster-whisper's package (its own install: "
                f"{install_weight(['faster-whisper'])['pip_mb']} MB with onnxruntime)",
            )
        )
    except Exception as exc:  # ConfigError without the asr extra
        missing["silero (onnxruntime)"] = f"{type(exc).__name__}: {exc}"
    return found, missing


# --- run and render --------------------------------------------------------------------------


def run(smoke: bool = False) -> dict[str, Any]:
    corpus = load_corpus(SMOKE_FILES if smoke else None)
    found, missing = candidates()
    results: dict[str, Any] = {
        "files": len(corpus),
        "true_segments": sum(len(spans) for _, _, spans in corpus),
        "audio_s": round(sum(a.size for _, a, _ in corpus) / RATE, 1),
        "noise": "white + pink, seeded per file; SNR over the true speech spans",
        "candidates": {},
        "not_installed": missing,
    }
    seconds = 20.0 if smoke else 120.0
    for cand in found:
        row = {
            "accuracy": accuracy(cand.detect, corpus),
            "noise_only_speech_s": false_alarms(cand.detect),
            "x_realtime_cpu": speed(cand.detect, seconds),
            "install": cand.install,
            "note": cand.note,
        }
        results["candidates"][cand.name] = row
        print(f"{cand.name}: {json.dumps(row)}", flush=True)
    results["map_file_x_realtime_cpu"] = map_file_speed(60.0 if smoke else 300.0)
    results["chosen"] = vad.detector_id()
    return results


def _cell(stats: dict[str, Any]) -> str:
    mae, p95 = stats.get("mae_ms"), stats.get("p95_ms")
    if mae is None:
        return "-"
    return f"{mae:.0f} / {p95:.0f}"


def render(result: dict[str, Any], runs: list[Any] | None = None) -> str:
    """Markdown: one row per candidate (for ``bench/report.py``'s ``RENDERERS["vad"]``)."""
    head = (
        "| detector | clean start | clean end | 20 dB start | 20 dB end | 10 dB start "
        "| 10 dB end | missed / false | noise-only speech (s) | x realtime / CPU s "
        "| adds to install |"
    )
    lines = [
        f"{result['files']} files, {result['true_segments']} true segments, "
        f"{result['audio_s']} s of audio; noise: {result['noise']}. Cells: mean absolute "
        "error / p95, ms. Targets: mean <= 60, p95 <= 150 clean and <= 250 at 10 dB, "
        ">= 200x realtime on one core.",
        "",
        head,
        "|" + "---|" * 11,
    ]
    for name, row in result["candidates"].items():
        acc = row["accuracy"]
        cells = [name]
        for cond in ("clean", "20dB", "10dB"):
            cells += [_cell(acc[cond]["start"]), _cell(acc[cond]["end"])]
        cells.append(
            ", ".join(f"{acc[c]['missed']}/{acc[c]['false']}" for c in ("clean", "20dB", "10dB"))
        )
        fa = row["noise_only_speech_s"]
        cells.append(", ".join(f"{k} {v:g}" for k, v in fa.items()))
        cells.append(f"{row['x_realtime_cpu']:,.0f}")
        inst = row["install"]
        added = f"{inst['pip_mb']:g} MB pip" + (
            f" ({', '.join(inst['pulls_in'])})" if inst["pulls_in"] else " (nothing)"
        )
        if inst["debian"]:
            added += f" + {inst['debian_mb']:g} MB Debian ({', '.join(inst['debian'])})"
        cells.append(added)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"`map_file` end to end (decode + detector, 16 kHz WAV): "
        f"{result['map_file_x_realtime_cpu']:,.0f}x realtime per CPU second. "
        f"Chosen: `{result['chosen']}`."
    )
    for name, why in result.get("not_installed", {}).items():
        lines.append(f"Not measured: {name} ({why}).")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="three files, short speed runs")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    res = run(smoke=args.smoke)
    print(render(res))
    if args.json:
        print(json.dumps(res, indent=1))
