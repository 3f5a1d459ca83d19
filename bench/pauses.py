"""Why pieces are cut only in silences of at least 1.5 s: pauses inside turns versus turn ends.

    python -m bench pauses            # every file of ../shared/speech/segments.json (~30 s)
    python -m bench pauses --write    # ... and into BENCHMARKS.md (+ bench/results.json)

Three measurements, no network and no server process (the server's parts are pure):

1. **Pauses inside turns.** Each true turn of ``segments.json`` (synthesized and read speech)
   is run through the speech map's detector (:mod:`jobrunner.audio.vad`) with gaps kept down
   to 50 ms (``min_silence_s=0.05``) and through silero, the local server's turn detector
   input (speech probability >= 0.5, a pause while it stays below 0.35: the detector's
   hysteresis). Every gap between two speech stretches of one turn is a pause inside it;
   a cut there would split a sentence. Also the gaps the *default* speech map (the one the
   planner cuts on) leaves inside a turn: the planner can only ever cut in those.
2. **Silences between turns**: the gaps between consecutive true turns of a file.
3. **The local turn detector's end of turn**: its end silence for the turn parameters the
   protocol allows (:func:`jobrunner.server.turn_detector.durations`), and, measured, the
   shortest gap between two sentences that it always ends the first turn at: each pair of the
   six single-sentence files joined by a gap of 0.2-2.0 s, silero probabilities pushed
   through :class:`~jobrunner.server.turn_detector.TurnDetector` at the default
   ``turn_end_threshold`` (0.2) and the lowest allowed (0.05, its longest wait).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

from jobrunner.audio.vad import VadParams, detect
from jobrunner.protocol.limits import TURN_END_THRESHOLD, TURN_END_TIMEOUT_MS
from jobrunner.server.turn_detector import DetectorConfig, TurnDetector, TurnParams, durations

ROOT = Path(__file__).resolve().parents[1]
SPEECH = Path(os.environ.get("JOBRUNNER_SPEECH", ROOT.parent / "shared" / "speech"))
RATE: Final = 16000
SENTENCES: Final = tuple(f"s0{i}_{n}.wav" for i, n in enumerate(
    ("weather", "meeting", "fox", "lights", "taxi", "library"), 1))  # fmt: skip
GAPS_S: Final = (0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05, 1.2, 1.5, 2.0)
SMOKE_GAPS_S: Final = (0.3, 0.9, 1.5)
#: the split threshold being justified (``plan_pieces(min_silence_s=...)``)
MIN_SILENCE_S: Final = 1.5
FINE: Final = VadParams(min_silence_s=0.05)

Audio = npt.NDArray[np.float32]


def load(name: str) -> Audio:
    audio, rate = sf.read(SPEECH / name, dtype="float32")
    assert rate == RATE, f"{name}: {rate} Hz"
    return np.asarray(audio, dtype=np.float32)


def truth() -> dict[str, list[tuple[float, float]]]:
    data = json.loads((SPEECH / "segments.json").read_text())
    return {name: [(float(a), float(b)) for a, b in spans] for name, spans in data.items()}


def silero_flags(audio: Audio) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], int]:
    """Per 32 ms frame: speech (p >= 0.5), silence (p < 0.35), and the frame length."""
    from jobrunner.server.silero import FRAME_SAMPLES, shared_model

    probs = shared_model().stream().probabilities(audio)
    config = DetectorConfig(RATE, FRAME_SAMPLES)
    return probs >= config.speech_threshold, probs < config.silence_threshold, FRAME_SAMPLES


def inner_gaps(spans: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """Gaps between speech spans (sorted) that lie inside the turn ``[start, end]``."""
    inside = [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end]
    return [b[0] - a[1] for a, b in itertools.pairwise(inside) if b[0] > a[1]]


def frame_spans(
    speech: npt.NDArray[np.bool_], silence: npt.NDArray[np.bool_], frame: int
) -> list[tuple[float, float]]:
    """Speech spans with the detector's hysteresis: a span goes on until a silent frame."""
    spans: list[tuple[float, float]] = []
    open_at: int | None = None
    for k, (sp, si) in enumerate(zip(speech, silence, strict=True)):
        if open_at is None and sp:
            open_at = k
        elif open_at is not None and si:
            spans.append((open_at * frame / RATE, k * frame / RATE))
            open_at = None
    if open_at is not None:
        spans.append((open_at * frame / RATE, len(speech) * frame / RATE))
    return spans


def pauses(names: list[str]) -> dict[str, Any]:
    """Measurements 1 and 2."""
    fine: list[float] = []
    silero: list[float] = []
    mapped: list[float] = []
    between: list[float] = []
    turns = 0
    for name, true_turns in truth().items():
        if name not in names:
            continue
        audio = load(name)
        fine_spans = [(s.start_s, s.end_s) for s in detect(audio, RATE, FINE)]
        map_spans = [(s.start_s, s.end_s) for s in detect(audio, RATE)]
        sil_spans = frame_spans(*silero_flags(audio))
        for start, end in true_turns:
            turns += 1
            fine += inner_gaps(fine_spans, start, end)
            silero += inner_gaps(sil_spans, start, end)
            mapped += inner_gaps(map_spans, start, end)
        between += [b[0] - a[1] for a, b in itertools.pairwise(true_turns)]

    def summary(values: list[float]) -> dict[str, Any]:
        if not values:
            return {"count": 0, "p50_s": None, "p95_s": None, "max_s": None}
        return {
            "count": len(values),
            "p50_s": round(float(np.percentile(values, 50)), 3),
            "p95_s": round(float(np.percentile(values, 95)), 3),
            "max_s": round(max(values), 3),
        }

    return {
        "files": len(names),
        "turns": turns,
        "inside_turns_vad": summary(fine),
        "inside_turns_silero": summary(silero),
        "inside_turns_speech_map": summary(mapped),
        "between_turns": summary(between),
    }


def turns_found(audio: Audio, end_threshold: float) -> int:
    """Turns the local server's detector ends in ``audio`` (silero probabilities in)."""
    from jobrunner.server.silero import FRAME_SAMPLES, shared_model

    detector = TurnDetector(
        DetectorConfig(RATE, FRAME_SAMPLES), TurnParams(end_threshold=end_threshold)
    )
    ends = 0
    for prob in shared_model().stream().probabilities(audio):
        ends += sum(d.kind == "end" for d in detector.push(float(prob)))
    return ends + sum(d.kind == "end" for d in detector.finish())


def detector(gaps: tuple[float, ...]) -> dict[str, Any]:
    """Measurement 3."""
    from jobrunner.server.silero import FRAME_SAMPLES

    config = DetectorConfig(RATE, FRAME_SAMPLES)
    rule = {}
    for threshold in (TURN_END_THRESHOLD.high, TURN_END_THRESHOLD.default, TURN_END_THRESHOLD.low):
        d = durations(config, TurnParams(end_threshold=threshold))
        rule[f"{threshold:g}"] = round(d.end / RATE, 3)
    clips = {name: load(name) for name in SENTENCES}
    pairs = list(itertools.permutations(SENTENCES, 2))
    sweep: dict[str, dict[str, float]] = {}
    for threshold in (TURN_END_THRESHOLD.default, TURN_END_THRESHOLD.low):
        split_share: dict[str, float] = {}
        for gap in gaps:
            silence = np.zeros(round(gap * RATE), np.float32)
            split = 0
            for a, b in pairs:
                # each file has 0.5 s of lead-in silence and some tail: trim to the true speech
                first, second = _speech(a, clips[a]), _speech(b, clips[b])
                tail = np.zeros(RATE, np.float32)
                audio = np.concatenate([first, silence, second, tail])
                split += turns_found(audio, threshold) >= 2
            split_share[f"{gap:g}"] = round(split / len(pairs), 3)
        sweep[f"{threshold:g}"] = split_share
    return {
        "end_silence_s_by_end_threshold": rule,
        "end_timeout_ms_range": [TURN_END_TIMEOUT_MS.low, TURN_END_TIMEOUT_MS.high],
        "end_timeout_ms_default": TURN_END_TIMEOUT_MS.default,
        "pairs": len(pairs),
        "turn_ended_share_by_gap": sweep,
    }


def _speech(name: str, audio: Audio) -> Audio:
    [(start, end)] = truth()[name]
    return audio[round(start * RATE) : round(end * RATE)]


def run(smoke: bool = False) -> dict[str, Any]:
    names = sorted(truth())
    result = pauses(names[:3] if smoke else names)
    result["detector"] = detector(SMOKE_GAPS_S if smoke else GAPS_S)
    result["min_silence_s"] = MIN_SILENCE_S
    return result


def _shortest_always(sweep: dict[str, float]) -> str:
    """The shortest gap from which on every pair was split into two turns."""
    always = None
    for gap, share in sorted(sweep.items(), key=lambda kv: float(kv[0]), reverse=True):
        if share < 1.0:
            break
        always = gap
    return f"{always} s" if always is not None else "none measured"


def render(result: dict[str, Any], runs: list[Any] | None = None) -> str:
    """Markdown for ``bench/report.py``'s ``RENDERERS["pauses"]``."""

    def row(name: str, s: dict[str, Any]) -> str:
        cells = ["-" if s[k] is None else s[k] for k in ("p50_s", "p95_s", "max_s")]
        return f"| {name} | {s['count']} | " + " | ".join(map(str, cells)) + " |"

    det = result["detector"]
    lines = [
        f"{result['files']} files, {result['turns']} true turns (`segments.json`).",
        "",
        "| silence | count | p50 s | p95 s | max s |",
        "|---|---|---|---|---|",
        row("pauses inside turns, speech-map detector at 50 ms", result["inside_turns_vad"]),
        row(
            "pauses inside turns, silero (the server's detector input)",
            result["inside_turns_silero"],
        ),  # fmt: skip
        row(
            "gaps the default speech map leaves inside turns (where a cut could fall)",
            result["inside_turns_speech_map"],
        ),  # fmt: skip
        row("silences between turns", result["between_turns"]),
        "",
        "| local turn detector | value |",
        "|---|---|",
    ]
    for threshold, seconds in det["end_silence_s_by_end_threshold"].items():
        lines.append(f"| end silence at turn_end_threshold {threshold} | {seconds} s |")
    low, high = det["end_timeout_ms_range"]
    lines.append(
        f"| turn_end_timeout_ms (the service's longest wait after the speaker stops) | "
        f"{det['end_timeout_ms_default']:g} ms by default, {low:g}-{high:g} |"
    )
    for threshold, sweep in det["turn_ended_share_by_gap"].items():
        shares = ", ".join(f"{gap} s: {share:.0%}" for gap, share in sweep.items())
        lines.append(
            f"| turn ended in a gap between two sentences, turn_end_threshold {threshold} "
            f"({det['pairs']} pairs) | {shares}; always from {_shortest_always(sweep)} |"
        )
    return "\n".join(lines)
