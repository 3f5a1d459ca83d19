"""``jobrunner transcribe FILE``: one file, one realtime session, no database."""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import click

from jobrunner.cli import AppContext
from jobrunner.client.auto import LiveEvent, OnEvent, SessionResult, transcribe_file
from jobrunner.errors import JobrunnerError
from jobrunner.protocol.events import Connected, ErrorEvent, UnknownEvent, encode_server_event


def _human_line(live: LiveEvent) -> str:
    event = live.event
    stamp = f"{live.audio_s:7.2f}s"
    if isinstance(event, Connected):
        return f"{stamp} connected (request {event.request_id or '?'})"
    if isinstance(event, ErrorEvent):
        return f"{stamp} error {event.status_code or ''}: {event.message}"
    if isinstance(event, UnknownEvent):
        return f"{stamp} unknown event {event.type!r}"
    name = event.type.removeprefix("turn.")
    turn = f"turn {live.turn_index}" if live.turn_index is not None else "turn -"
    return f"{stamp} {turn} {name:<9} [{live.state}] {live.text!r}"


def _json_event(live: LiveEvent) -> str:
    payload: dict[str, Any] = json.loads(encode_server_event(live.event))
    payload.update(
        turn=live.turn_index,
        state=live.state,
        audio_s=round(live.audio_s, 3),
        elapsed_s=round(live.elapsed_s, 3),
    )
    return json.dumps(payload, ensure_ascii=False)


def _json_result(result: SessionResult) -> str:
    return json.dumps(
        {
            "type": "result",
            "transcript": result.transcript,
            "turns": [asdict(turn) for turn in result.turns],
            "request_id": result.request_id,
            "audio_s": round(result.audio_s_sent, 3),
            "wire": result.plan.describe(),
            "connect_tries": result.connect_tries,
            "drain_s": round(result.drain_s, 3),
            "mean_send_rate": round(result.pacing.mean_rate, 4),
            "p99_lateness_s": round(result.pacing.p99_lateness_s, 4),
        },
        ensure_ascii=False,
    )


async def _cancel_on_signals(cancel: anyio.Event) -> None:
    """Ctrl-C / SIGTERM close the session properly (1001) instead of dropping the socket."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            cancel.set()
            return


async def _run(
    path: Path, app: AppContext, overrides: dict[str, Any], on_event: OnEvent
) -> SessionResult:
    settings = app.settings(**overrides)
    cancel = anyio.Event()
    outcome: SessionResult | JobrunnerError
    async with anyio.create_task_group() as tg:
        if sys.platform != "win32":
            tg.start_soon(_cancel_on_signals, cancel)
        try:
            outcome = await transcribe_file(path, settings, on_event=on_event, cancel_event=cancel)
        except JobrunnerError as exc:
            outcome = exc
        finally:
            tg.cancel_scope.cancel()
    if isinstance(outcome, JobrunnerError):
        raise outcome
    return outcome


@click.command("transcribe")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per event, then a final result line."
)
@click.option("--pace", type=float, help="Realtime factor (default 1.0; above 1 only for tests).")
@click.option("--base-url", metavar="URL", help="Service URL (e.g. http://127.0.0.1:8765).")
@click.option("--chunk-ms", type=int, help="Audio per websocket frame, ms (default 100).")
@click.pass_obj
def transcribe(
    app: AppContext,
    file: Path,
    as_json: bool,
    pace: float | None,
    base_url: str | None,
    chunk_ms: int | None,
) -> None:
    """Transcribe one recording through a realtime session; no database.

    Turn events are shown live on stderr; the transcript (the turns' final texts joined
    verbatim) goes to stdout followed by one newline. With --json, stdout gets one JSON
    object per server event and a final {"type": "result", "transcript", "turns", ...}.

    \b
    Examples:
      jobrunner transcribe call.wav > call.txt
      jobrunner transcribe --json call.flac | jq -r 'select(.type=="turn.end").transcript'
      jobrunner --profile local transcribe call.wav     # against `jobrunner serve`
      CARTESIA_API_KEY=... jobrunner transcribe --chunk-ms 50 call.wav
    """

    def on_event(live: LiveEvent) -> None:
        if as_json:
            click.echo(_json_event(live))
        else:
            click.echo(_human_line(live), err=True)

    overrides = {"pace": pace, "base_url": base_url, "chunk_ms": chunk_ms}
    result: SessionResult = anyio.run(_run, file, app, overrides, on_event)
    if as_json:
        click.echo(_json_result(result))
    else:
        sys.stdout.write(result.transcript + "\n")
        sys.stdout.flush()
