"""Measure the offline recognizer (``--engine whisper``) on ``../shared/speech``.

    python bench/asr.py            # everything (about 4 minutes on 2 quiet cores)
    python bench/asr.py --smoke    # two files, one configuration (seconds)
    python -m bench asr --write    # through the benchmark runner, into BENCHMARKS.md

Audio is fed in 100 ms chunks exactly as the server does. Reported per configuration (greedy
or beam 5, with or without partials): corpus WER on the synthesized and the real files, turn
counts, when ``turn.start``/``turn.end`` came (audio seconds) against the true speech times of
``segments.json``, and the CPU realtime factor (process CPU seconds / audio seconds). Then N
simultaneous sessions paced at realtime (``turn.end`` delay behind the audio that decided it),
the silero VAD alone on clean audio and with white noise at 10 and 5 dB SNR, and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobrunner.protocol.events import ServerEvent, TurnEnd, TurnStart, TurnUpdate  # noqa: E402
from jobrunner.server.recognizer import Recognition, get_recognizer  # noqa: E402
from jobrunner.server.silero import FRAME_SAMPLES, VAD_RATE, shared_model  # noqa: E402
from jobrunner.server.transcripts import normalize_words, word_edit_distance  # noqa: E402
from jobrunner.server.turn_detector import DetectorConfig, TurnDetector, TurnParams  # noqa: E402

SPEECH = Path(os.environ.get("JOBRUNNER_SPEECH", ROOT.parent / "shared" / "speech"))
CHUNK_S = 0.1
PARTIAL_S = 1.5
SESSIONS = 6
SMOKE_FILES = ("two_sent_1p5s.wav", "real/librivox_0880.wav")


@dataclass
class Sample:
    name: str
    audio: np.ndarray
    rate: int
    turns: list[str]
    segments: list[tuple[float, float]] | None

    @property
    def real(self) -> bool:
        return self.name.startswith("real/")

    @property
    def seconds(self) -> float:
        return self.audio.size / self.rate


@dataclass
class Outcome:
    """What one session produced: (audio seconds when returned, event) pairs."""

    events: list[tuple[float, ServerEvent]] = field(default_factory=list)
    end_delays: list[float] = field(default_factory=list)  # wall s behind the deciding chunk

    @property
    def finals(self) -> list[tuple[float, TurnEnd]]:
        return [(at, e) for at, e in self.events if isinstance(e, TurnEnd)]

    @property
    def transcript(self) -> str:
        return "".join(e.transcript for _, e in self.finals)


def load_corpus(names: Iterable[str] | None = None) -> list[Sample]:
    texts = dict(
        line.split("\t", 1)
        for line in (SPEECH / "texts.tsv").read_text().splitlines()
        if "\t" in line
    )
    segments = json.loads((SPEECH / "segments.json").read_text())
    out = []
    for name in names or texts:
        audio, rate = sf.read(SPEECH / name, dtype="float32", always_2d=True)
        spans = segments.get(name)
        out.append(
            Sample(
                name=name,
                audio=audio.mean(axis=1).astype(np.float32),
                rate=rate,
                turns=[t.strip() for t in texts[name].split(" | ")],
                segments=[(float(a), float(b)) for a, b in spans] if spans else None,
            )
        )
    return out


def stream(session: Recognition, sample: Sample, pace: float | None = None) -> Outcome:
    """Feed ``sample`` in 100 ms chunks; with ``pace``, on a drift-free realtime schedule."""
    step = round(sample.rate * CHUNK_S)
    outcome = Outcome()
    t0 = time.monotonic()
    for k, begin in enumerate(range(0, sample.audio.size, step)):
        due = t0 + k * CHUNK_S / pace if pace else 0.0
        if pace and (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        events = session.feed(sample.audio[begin : begin + step])
        at = min(begin + step, sample.audio.size) / sample.rate
        if pace and any(isinstance(e, TurnEnd) for e in events):
            outcome.end_delays.append(time.monotonic() - max(due, t0))
        outcome.events.extend((at, e) for e in events)
    outcome.events.extend((sample.seconds, e) for e in session.finish())
    return outcome


def score(samples: list[Sample], outcomes: list[Outcome]) -> dict[str, Any]:
    """Corpus WER (synthetic / real), turn counts and turn timing against segments.json."""
    edits = {"synthetic": [0, 0], "real": [0, 0]}
    turns_ok = 0
    start_err: list[float] = []
    end_after: list[float] = []
    updates = 0
    for sample, outcome in zip(samples, outcomes, strict=True):
        ref = normalize_words(" ".join(sample.turns))
        hyp = normalize_words(outcome.transcript)
        bucket = edits["real" if sample.real else "synthetic"]
        bucket[0] += word_edit_distance(ref, hyp)
        bucket[1] += len(ref)
        finals = outcome.finals
        starts = [at for at, e in outcome.events if isinstance(e, TurnStart)]
        updates += sum(isinstance(e, TurnUpdate) for _, e in outcome.events)
        if len(finals) == len(sample.turns):
            turns_ok += 1
            if sample.segments and len(sample.segments) == len(finals):
                for (s0, s1), at_start, (at_end, _) in zip(
                    sample.segments, starts, finals, strict=True
                ):
                    start_err.append(at_start - s0)
                    if at_end < sample.seconds:  # ended by silence, not by the end of the file
                        end_after.append(at_end - s1)
    return {
        "wer_synthetic": edits["synthetic"][0] / max(1, edits["synthetic"][1]),
        "wer_real": edits["real"][0] / max(1, edits["real"][1]),
        "turns_ok": f"{turns_ok}/{len(samples)}",
        "start_after_s": _stats(start_err),
        "end_after_s": _stats(end_after),
        "updates": updates,
    }


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "mean": round(statistics.fmean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def accuracy(samples: list[Sample], **options: Any) -> dict[str, Any]:
    """One session per file, fed as fast as it goes; CPU realtime factor over all files."""
    engine = get_recognizer("whisper", **options)
    cpu0 = time.process_time()
    outcomes = [stream(engine.open(s.rate, TurnParams()), s) for s in samples]
    cpu = time.process_time() - cpu0
    result = score(samples, outcomes)
    result["cpu_rtf"] = round(cpu / sum(s.seconds for s in samples), 3)
    result["cpu_s_per_turn"] = round(cpu / sum(len(o.finals) for o in outcomes), 3)
    result["transcripts"] = {s.name: o.transcript for s, o in zip(samples, outcomes, strict=True)}
    return result


def concurrent(samples: list[Sample], sessions: int, **options: Any) -> dict[str, Any]:
    """``sessions`` threads (as the server's worker threads), each streaming every sample at 1x."""
    engine: Any = get_recognizer("whisper", **options)
    skipped0 = engine.decoder.partials_skipped
    audio_s = sum(s.seconds for s in samples) * sessions
    outcomes: list[list[Outcome]] = [[] for _ in range(sessions)]

    def worker(i: int) -> None:
        order = samples[i % len(samples) :] + samples[: i % len(samples)]
        for sample in order:
            outcomes[i].append(stream(engine.open(sample.rate, TurnParams()), sample, pace=1.0))

    cpu0, wall0 = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    delays = sorted(d for per in outcomes for o in per for d in o.end_delays)
    flat = [o for per in outcomes for o in per]
    ordered = [
        s
        for i in range(sessions)
        for s in samples[i % len(samples) :] + samples[: i % len(samples)]
    ]
    result = score(ordered, flat)
    return {
        "sessions": sessions,
        "wall_s": round(wall, 1),
        "cpu_rtf_per_session": round(cpu / audio_s, 3),
        "cpu_load": round(cpu / wall, 2),
        "end_delay_p50_s": round(delays[len(delays) // 2], 3) if delays else None,
        "end_delay_p95_s": round(delays[int(len(delays) * 0.95)], 3) if delays else None,
        "end_delay_max_s": round(delays[-1], 3) if delays else None,
        "wer_synthetic": result["wer_synthetic"],
        "wer_real": result["wer_real"],
        "updates": result["updates"],
        "partials_skipped": engine.decoder.partials_skipped - skipped0,
    }


def vad_noise(
    samples: list[Sample], snrs: Iterable[float | None] = (None, 10.0, 5.0)
) -> dict[str, Any]:
    """Silero + the turn detector alone: right turn count and timing, clean and in white noise."""
    model = shared_model()
    rng = np.random.default_rng(1234)
    out: dict[str, Any] = {}
    frames = 0
    cpu0 = time.process_time()
    for snr in snrs:
        ok, start_err, end_err = 0, [], []
        for sample in samples:
            if sample.rate != VAD_RATE or not sample.segments:
                continue
            audio = sample.audio
            if snr is not None:
                speech = np.concatenate(
                    [audio[int(a * VAD_RATE) : int(b * VAD_RATE)] for a, b in sample.segments]
                )
                noise_power = float(np.mean(speech**2)) / 10 ** (snr / 10)
                audio = audio + rng.normal(0, np.sqrt(noise_power), audio.size).astype(np.float32)
            stream_ = model.stream()
            detector = TurnDetector(DetectorConfig(VAD_RATE, FRAME_SAMPLES), TurnParams())
            decisions = []
            step = VAD_RATE // 10
            for begin in range(0, audio.size, step):
                probs = stream_.probabilities(audio[begin : begin + step])
                frames += probs.size
                for p in probs:
                    decisions.extend(detector.push(float(p)))
            decisions.extend(detector.finish())
            ends = [d for d in decisions if d.kind == "end"]
            starts = [d for d in decisions if d.kind == "start"]
            if len(ends) == len(sample.segments):
                ok += 1
                for (s0, s1), st, en in zip(sample.segments, starts, ends, strict=True):
                    start_err.append((st.start / VAD_RATE + 0.2) - s0)  # undo the pre-roll
                    end_err.append(en.end / VAD_RATE - s1)
        key = "clean" if snr is None else f"{snr:g}dB"
        out[key] = {
            "turns_ok": f"{ok}/{sum(1 for s in samples if s.segments)}",
            "speech_start_err_s": _stats(start_err),
            "speech_end_err_s": _stats(end_err),
        }
    out["ms_cpu_per_frame"] = round((time.process_time() - cpu0) * 1000 / max(1, frames), 3)
    return out


def session_memory(sample: Sample) -> dict[str, float]:
    """Python/numpy memory one session holds at its peak (audio, VAD state, buffers).

    The model's own memory (CTranslate2, shared by every session) is not traced; it shows in
    the process RSS instead.
    """
    engine = get_recognizer("whisper", partial_interval_s=0)
    session = engine.open(sample.rate, TurnParams())
    tracemalloc.start()
    step = round(sample.rate * CHUNK_S)
    peak_open = 0
    for begin in range(0, sample.audio.size, step):
        session.feed(sample.audio[begin : begin + step])
        peak_open = max(peak_open, tracemalloc.get_traced_memory()[0])
    session.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "audio_s": round(sample.seconds, 1),
        "held_kb_max": round(peak_open / 1024, 1),
        "peak_kb_incl_decode": round(peak / 1024, 1),
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(smoke: bool = False) -> dict[str, Any]:
    rss_start = _rss_mb()
    samples = load_corpus(SMOKE_FILES if smoke else None)
    results: dict[str, Any] = {
        "files": len(samples),
        "audio_s": round(sum(s.seconds for s in samples), 1),
    }
    get_recognizer("whisper")
    results["rss_mb_models_loaded"] = round(_rss_mb(), 1)
    results["rss_mb_before_models"] = round(rss_start, 1)
    partials = {"partial_interval_s": PARTIAL_S}
    configs: dict[str, dict[str, Any]] = {"beam5+partials": {**partials, "inline_partials": True}}
    if not smoke:
        configs = {
            "greedy": {"beam_size": 1, "partial_interval_s": 0},
            "beam5": {"beam_size": 5, "partial_interval_s": 0},
            **configs,
        }
    results["configs"] = {name: accuracy(samples, **opts) for name, opts in configs.items()}
    for name in list(results["configs"])[:-1]:  # transcripts of the default configuration only
        del results["configs"][name]["transcripts"]
    results["rss_mb_after_single"] = round(_rss_mb(), 1)
    longest = max(samples, key=lambda s: s.seconds)
    results["session_memory"] = session_memory(longest)
    if not smoke:
        multi = load_corpus(["two_sent_1p5s.wav", "short_turns.wav", "real/librivox_0870.wav"])
        results["concurrent"] = {
            f"{n} sessions, {name}": concurrent(multi, n, partial_interval_s=interval)
            for n in (1, SESSIONS)
            for name, interval in (("no partials", 0.0), ("background partials", PARTIAL_S))
        }
        results["rss_mb_after_concurrent"] = round(_rss_mb(), 1)
    results["vad"] = vad_noise(samples)
    _print(results)
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"{results['files']} files, {results['audio_s']} s of audio")
    header = f"{'config':<18}{'WER syn':>9}{'WER real':>9}{'turns':>7}{'CPU RTF':>9}"
    print(header + f"{'CPU s/turn':>11}{'updates':>9}  turn.end after speech end (s)")
    for name, r in results["configs"].items():
        end = r["end_after_s"] or {}
        print(
            f"{name:<18}{r['wer_synthetic']:>9.3f}{r['wer_real']:>9.3f}{r['turns_ok']:>7}"
            f"{r['cpu_rtf']:>9.3f}{r['cpu_s_per_turn']:>11.3f}{r['updates']:>9}  {end}"
        )
    for name, r in results.get("concurrent", {}).items():
        print(f"at 1x, {name}: {r}")
    print(f"one session's memory: {results['session_memory']}")
    for name, r in results["vad"].items():
        print(f"VAD {name}: {r}")
    print(
        f"RSS MB: before models {results['rss_mb_before_models']}, models loaded "
        f"{results['rss_mb_models_loaded']}, after single sessions {results['rss_mb_after_single']}"
        + f", after concurrent runs {results.get('rss_mb_after_concurrent', '-')}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="two files, one configuration")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    res = run(smoke=args.smoke)
    if args.json:
        print(json.dumps(res, indent=1))
