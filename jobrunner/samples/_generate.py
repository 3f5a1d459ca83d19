"""Regenerate the demo recordings (development time only: needs espeak-ng and sox).

    python jobrunner/samples/_generate.py

Each sample is a short multi-turn exchange: turns are synthesised separately and joined with
1.5 s of silence, so a turn detector sees clear turn ends. The files cover the encodings a user's
archive holds (16-bit WAV, 8 kHz mu-law phone audio, 44.1 kHz stereo FLAC). ``texts.tsv`` holds
the reference text, turns separated by `` | ``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GAP_S = 1.5
LEAD_S = 0.4

SAMPLES: list[tuple[str, list[str], list[str]]] = [
    (
        "restaurant_booking.wav",
        [
            "Hi, I would like to book a table for four people tonight.",
            "Around seven thirty, if that works.",
            "Thank you, see you then.",
        ],
        ["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"],
    ),
    (
        "support_call_8k_ulaw.wav",
        [
            "My internet has been down since this morning.",
            "I already tried restarting the router.",
            "Can you send a technician tomorrow?",
        ],
        ["-r", "8000", "-c", "1", "-e", "u-law"],
    ),
    (
        "interview_stereo.flac",
        [
            "Tell me about a project you are proud of.",
            "We rebuilt the billing system in three months.",
            "It cut our error rate in half.",
        ],
        ["-r", "44100", "-c", "2", "-b", "16"],
    ),
    (
        "weather_question.wav",
        [
            "What is the weather like in Paris this weekend?",
            "Should I bring an umbrella?",
        ],
        ["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"],
    ),
    (
        "delivery_change.wav",
        [
            "I want to change the delivery address for my order.",
            "The new address is twelve Baker Street.",
            "That is all, thanks.",
        ],
        ["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"],
    ),
]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def build(name: str, turns: list[str], out_format: list[str], tmp: Path) -> None:
    parts: list[str] = []
    silence = tmp / "gap.wav"
    lead = tmp / "lead.wav"
    _run("sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(silence), "trim", "0", str(GAP_S))
    _run("sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(lead), "trim", "0", str(LEAD_S))
    parts.append(str(lead))
    for i, text in enumerate(turns):
        turn = tmp / f"{name}.{i}.wav"
        _run("espeak-ng", "-v", "en-us", "-s", "155", "-w", str(turn), text)
        parts.append(str(turn))
        parts.append(str(silence))
    _run("sox", *parts, *out_format, str(HERE / name))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, turns, fmt in SAMPLES:
            build(name, turns, fmt, Path(tmp))
    lines = [f"{name}\t{' | '.join(turns)}" for name, turns, _ in SAMPLES]
    (HERE / "texts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
