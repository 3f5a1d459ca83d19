"""``jobrunner speech FILE``: a file's speech map (where the speech is, per channel)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobrunner.audio.speechmap import SpeechMap, map_file


def _human(path: str, speech: SpeechMap) -> str:
    lines = [f"{path}: {speech.duration_s:.3f} s, {speech.mode}, detector {speech.detector}"]
    for channel, segments in enumerate(speech.channels):
        lines.append(
            f"channel {channel}: {len(segments)} segments, {speech.speech_s(channel):.3f} s "
            "of speech"
        )
        lines += [f"  {s.start_s:9.3f} - {s.end_s:9.3f}  ({s.duration_s:.3f} s)" for s in segments]
    return "\n".join(lines)


@click.command("speech")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--channels",
    type=click.Choice(["downmix", "split"]),
    default="downmix",
    show_default=True,
    help="Judge the channels together, or each on its own (two-sided calls).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the map as one JSON object.")
def speech_command(file: Path, channels: str, as_json: bool) -> None:
    """Print where FILE has speech, from the voice activity detector behind the speech map.

    Times are seconds from the start of the file. Nothing is stored: `jobrunner analyze`
    computes and keeps maps for queued jobs.

    \b
    Examples:
      jobrunner speech call.wav
      jobrunner speech --channels split --json stereo_call.flac | jq '.channels[1]'
    """
    speech = map_file(file, channels="split" if channels == "split" else "downmix")
    if as_json:
        payload = json.loads(speech.to_json())
        payload["path"] = str(file)
        payload["speech_s"] = [round(speech.speech_s(c), 3) for c in range(len(speech.channels))]
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(_human(str(file), speech))
