"""``jobrunner export``: transcripts out of the job database (see :mod:`jobrunner.export`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, cast

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.cli.options import job_filters
from jobrunner.errors import UsageError
from jobrunner.export import FOLDER_FORMATS, FORMATS, TIMES, By, Format, Times, export


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl/csv: one document; srt/vtt/txt: one file per job into a folder.",
)
@click.option(
    "--by",
    type=click.Choice(["file", "turn"]),
    default="file",
    show_default=True,
    help="jsonl/csv: one record per job or per turn.",
)
@job_filters()
@click.option(
    "-o",
    "--output",
    metavar="FILE|DIR|-",
    help="Where to write: a file, '-' for stdout (the default for jsonl/csv), or a folder "
    "for srt/vtt/txt (required there).",
)
@click.option("--bom", is_flag=True, help="csv: start with a UTF-8 byte order mark (for Excel).")
@click.option(
    "--times",
    type=click.Choice(TIMES),
    help="srt/vtt: cue times from the speech map (speech, the default; event times where it "
    "cannot say) or from the events (event: start_s..end_s).",
)
@click.option(
    "--channel-labels",
    metavar="A,B,...",
    help="Names of channels 0, 1, ... (e.g. agent,caller; setting channel_labels): the "
    "speaker column, the dialogue's labels, and a prefix on every srt/vtt cue.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="srt/vtt/txt: also replace files in the folder that no export wrote (refused by default).",
)
@click.pass_obj
def export_command(
    app: AppContext,
    fmt: str,
    by: str,
    states: tuple[str, ...],
    label: str | None,
    output: str | None,
    bom: bool,
    times: str | None,
    channel_labels: str | None,
    overwrite: bool,
) -> None:
    """Export jobs with their transcripts and per-turn timings, in id order.

    Every job is exported unless filtered: failed and invalid jobs too, with their reason
    (error, error_kind) and no transcript. A file is written under a temporary name and renamed
    when complete, so an interrupted export never leaves a partial file.

    \b
    Examples:
      jobrunner export -o transcripts.jsonl
      jobrunner export --format csv --state succeeded -o out.csv --bom
      jobrunner export --format csv --by turn -o turns.csv
      jobrunner export --format srt -o subtitles/
      jobrunner export --format vtt --times event -o subtitles/
      jobrunner export --format srt --channel-labels agent,caller -o subtitles/
      jobrunner export --label calls | jq -r 'select(.status == "failed") | .path'

    \b
    Fields (JSONL keys and CSV columns, in this order; only ever added to):
      by file: job_id, path, label, status, error_kind, error, duration_s, sample_rate,
        channels, format, subtype, sha256, encoding, model, request_id, attempts,
        transcript_attempt, finished_at, turn_count, transcript, coverage, uncovered_s,
        endpoint
        (JSONL adds turns: [{index, channel, transcript, <timings>, ended_by, <speech>,
        words}], dialogue: [{channel, label, start_s, end_s, transcript}], and
        channel_transcripts: [{channel, label, transcript}] when the job has turns on several
        channels)
      by turn: job_id, path, label, status, sha256, model, request_id, turn_index, channel,
        <timings>, transcript, ended_by, <speech>, words, speaker
      timings: start_s, end_s, first_update_s, eager_end_s, updates, eager_ends, resumes,
        start_wall_s, end_wall_s
      speech: speech_start_s, speech_end_s, end_latency_s, start_latency_s, eager_latency_s
    transcript is the turn texts joined verbatim. start_s/end_s are the seconds of audio sent
    when turn.start/turn.end arrived (the service sends no timestamps): never before the speech,
    late by the service's reaction time; end_s includes the closing silence it waits for.
    ended_by is "turn.end", or "close" for a turn the server's normal close cut off: its text
    is the turn's last update (Manual: "flush_done" or "done"; Batch: "batch").
    endpoint is auto, manual or batch; words is a turn's [{word, start, end}] from Manual or
    Batch (null for Auto; in CSV, one field holding their JSON).
    speech_start_s/speech_end_s are where the turn's speech is in the file, from the speech
    map (jobrunner speech FILE shows one); end_latency_s = end_s - speech_end_s is the
    turn-detection latency, start_latency_s = start_s - speech_start_s, eager_latency_s =
    eager_end_s - speech_end_s; null where no map was computed or it cannot place the turn.
    coverage is covered/uncovered (null without a map): uncovered means mapped speech that no
    turn accounts for (uncovered_s seconds): see jobs --uncovered and retry --uncovered.
    dialogue orders the turns of all channels by speech start (start_s where the map cannot
    say); label and speaker are the channel's name from --channel-labels, else its number.

    \b
    CSV: text fields quoted, numbers not, CRLF; reads back exactly with Python's csv module.
    srt/vtt/txt: one file per job that has a transcript, named after the audio file
    (x.wav -> x.srt; a second x.* gets x-<job id>.srt). A file of that name already in the
    folder is replaced only if an earlier export wrote it and it is unchanged (the folder's
    hidden .jobrunner-export.json lists them); any other is refused, naming the file, and
    nothing is written, unless --overwrite. -o FILE is always replaced.
    """
    if times is not None and fmt not in ("srt", "vtt"):
        raise UsageError("--times is for --format srt and vtt")
    if output is None and fmt in FOLDER_FORMATS:
        raise UsageError(f"--format {fmt} writes one file per job: give -o FOLDER")
    settings = app.settings(channel_labels=channel_labels)
    out: Path | BinaryIO
    if output is None or output == "-":
        sys.stdout.flush()  # anything click wrote goes first
        out = sys.stdout.buffer
    else:
        out = Path(output).expanduser()
    with open_queue(settings.db_url) as store:
        try:
            summary = export(
                store,
                cast(Format, fmt),
                cast(By, by),
                states or None,
                label,
                out,
                bom=bom,
                overwrite=overwrite,
                times=cast(Times, times or "speech"),
                channel_labels=settings.channel_labels,
            )
        except BrokenPipeError:
            # the reader went away (``| head``): stop quietly, as a pipeline expects
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
    click.echo(summary.line(), err=True)
