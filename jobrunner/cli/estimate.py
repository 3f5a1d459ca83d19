"""``jobrunner estimate [PATHS]``: hours, sessions, pieces, makespan and cost before a run.

Also the report of ``jobrunner run --dry-run`` (:func:`queue_report`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobrunner.cli import AppContext
from jobrunner.cli.database import open_queue
from jobrunner.config import CHANNEL_MODES, Settings
from jobrunner.formatting import format_duration
from jobrunner.pieces.estimate import Estimate, EstimateOptions, estimate
from jobrunner.pieces.workload import Workload, from_paths, from_queue
from jobrunner.store import Store

PRICE_HINT = "set a price: --price X (per audio hour) or price_per_audio_hour in the profile"


def options_for(settings: Settings) -> EstimateOptions:
    """What the run with ``settings`` would do: its sessions, pace, splitting and price."""
    return EstimateOptions(
        concurrency=settings.concurrency,
        pace=settings.pace,
        split=settings.split,
        split_min_s=settings.split_min_s,
        price_per_audio_hour=settings.price_per_audio_hour,
    )


def table(result: Estimate, work: Workload) -> str:
    """The estimate as aligned lines for people."""
    hours = f"{result.audio_s / 3600:.2f} h ({format_duration(result.audio_s)})"
    rows = [
        (
            "files",
            f"{result.files}"
            + (f" ({len(work.unreadable)} unreadable)" if work.unreadable else ""),
        ),
        ("audio", hours),
        (
            "speech",
            f"{result.speech_s / 3600:.2f} h ({format_duration(result.speech_s)})"
            + (f"; {result.unmapped} sessions without a speech map" if result.unmapped else ""),
        ),
        ("sessions", f"{result.sessions}"),
        ("pieces", f"{result.pieces}" + ("" if result.split else " (--no-split)")),
        (
            f"makespan -c {result.concurrency}",
            f"{format_duration(result.makespan_unsplit_s)} without splitting, "
            f"{format_duration(result.makespan_split_s)} with splitting",
        ),
    ]
    sent = f"{result.sent_s / 3600:.2f} audio hours sent"
    if result.cost is None:
        rows.append(("cost", f"{sent}; {PRICE_HINT}"))
    else:
        rows.append(
            ("cost", f"{result.cost:.2f} ({sent} x {result.price_per_audio_hour:g} per hour)")
        )
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"unreadable: {path}: {reason}" for path, reason in work.unreadable]
    return "\n".join(lines)


def echo(result: Estimate, work: Workload, as_json: bool) -> None:
    if as_json:
        doc = result.to_json()
        doc["unreadable"] = [{"path": p, "reason": r} for p, r in work.unreadable]
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        click.echo(table(result, work))


def queue_report(
    store: Store, settings: Settings, *, label: str | None = None, as_json: bool = False
) -> None:
    """Print the estimate of the queue's runnable jobs as a run with ``settings`` would take
    them (``run --dry-run``, ``estimate``)."""
    work = from_queue(store, settings.channels, label)
    echo(estimate(work.files, options_for(settings)), work, as_json)


@click.command("estimate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-c", "--concurrency", type=click.IntRange(min=1), metavar="N", help="Sessions at once."
)
@click.option("--pace", type=float, metavar="X", help="Realtime factor the run will use.")
@click.option(
    "--price",
    type=click.FloatRange(min=0),
    metavar="X",
    help="Price per audio hour sent (setting price_per_audio_hour; no default).",
)
@click.option(
    "--channels",
    type=click.Choice(CHANNEL_MODES),
    help="Multichannel files: one downmixed session (default), one per channel, or auto (per "
    "channel when the channels carry different voices). Queued jobs keep a mode set at enqueue.",
)
@click.option(
    "--split/--no-split",
    default=None,
    help="Cut long files into pieces at silences to fill idle sessions (default: on).",
)
@click.option(
    "--split-min",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Only files longer than S seconds are split (default 600).",
)
@click.option("--label", metavar="NAME", help="Queue: only jobs with this label.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (jobrunner.estimate/1).")
@click.pass_obj
def estimate_command(
    app: AppContext,
    paths: tuple[Path, ...],
    concurrency: int | None,
    pace: float | None,
    price: float | None,
    channels: str | None,
    split: bool | None,
    split_min: float | None,
    label: str | None,
    as_json: bool,
) -> None:
    """Say what transcribing PATHS (or the queue's runnable jobs) will take, spending nothing.

    Audio and speech hours, sessions (a file, or a channel of a split file) and pieces, the
    makespan at -c N with and without splitting, and the cost at your price per audio hour.
    Speech maps of queued jobs are computed once and kept for the run; bare PATHS are only
    read. The makespan is a simulation (longest first, plus a second per session for connect
    and drain); see the README, "Estimate".

    \b
    Examples:
      jobrunner estimate calls/ -c 8 --price 0.30
      jobrunner estimate --channels auto --json | jq .makespan_split_s
      jobrunner run -c 8 --dry-run
    """
    settings = app.settings(
        concurrency=concurrency,
        pace=pace,
        price_per_audio_hour=price,
        channels=channels,
        split=split,
        split_min_s=split_min,
    )
    if paths:
        work = from_paths(paths, settings.channels)
        echo(estimate(work.files, options_for(settings)), work, as_json)
        return
    with open_queue(settings.db_url) as store:
        queue_report(store, settings, label=label, as_json=as_json)
