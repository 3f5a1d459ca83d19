"""Who said what, when: a job's turns of every channel merged into one dialogue.

A stereo call transcribed per channel has the agent's turns on channel 0 and the caller's on
channel 1, each numbered in its own time order. The dialogue orders all of them by where their
speech starts in the file (``speech_start_s``, from the speech map), falling back to the
turn's start on the audio clock (``start_s``) where the map cannot say, then by channel and
index, so equal times keep a stable order. It is exported as ``dialogue`` in JSONL (every
job; for a single channel it is just its turns) and drives the ``speaker`` column of per-turn
CSV and the speaker prefix of SRT/VTT cues.

A channel's **label** is the name given for it (``--channel-labels agent,caller`` names
channels 0, 1, ...; setting ``channel_labels``), else its number as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobrunner.store import TurnView

Labels = Sequence[str]
Turns = Sequence[TurnView]


def label(channel: int, labels: Labels = ()) -> str:
    """The name of ``channel``: its entry in ``labels``, else its number."""
    return labels[channel] if 0 <= channel < len(labels) and labels[channel] else str(channel)


def multichannel(turns: Turns) -> bool:
    """A job's ``turns`` are on more than one channel (a stereo call transcribed per side)."""
    return len({t.channel for t in turns}) > 1


def start_of(t: TurnView) -> float:
    """Where the turn's speech starts: the speech map's start, else the event's, else 0."""
    if t.speech_start_s is not None:
        return t.speech_start_s
    return t.start_audio_s if t.start_audio_s is not None else 0.0


def end_of(t: TurnView) -> float | None:
    """Where the turn's speech ends: the speech map's end, else the ``turn.end`` event's."""
    return t.speech_end_s if t.speech_end_s is not None else t.end_audio_s


def ordered(turns: Turns) -> list[TurnView]:
    """A job's turns of all channels by speech start time (then channel, index)."""
    return sorted(turns, key=lambda t: (start_of(t), t.channel, t.index))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000) / 1000


def dialogue(turns: Turns, labels: Labels = ()) -> list[dict[str, Any]]:
    """The ``dialogue`` member of a JSONL job: ``{channel, label, start_s, end_s, transcript}``
    per turn, in dialogue order."""
    return [
        {
            "channel": t.channel,
            "label": label(t.channel, labels),
            "start_s": _ms(start_of(t)),
            "end_s": _ms(end_of(t)),
            "transcript": t.transcript,
        }
        for t in ordered(turns)
    ]


def channel_transcripts(turns: Turns, labels: Labels = ()) -> list[dict[str, Any]]:
    """Each channel's transcript (its turns' texts joined verbatim, in turn order), in channel
    order: ``{channel, label, transcript}``."""
    texts: dict[int, list[str]] = {}
    for t in sorted(turns, key=lambda t: (t.channel, t.index)):
        texts.setdefault(t.channel, []).append(t.transcript)
    return [
        {"channel": ch, "label": label(ch, labels), "transcript": "".join(parts)}
        for ch, parts in sorted(texts.items())
    ]
