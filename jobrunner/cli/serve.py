"""``jobrunner serve``: the bundled local realtime server, in the foreground."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from jobrunner.config import Secret
from jobrunner.errors import UsageError
from jobrunner.server import (
    DEFAULT_PORT,
    RECOGNIZERS,
    RealtimeServer,
    ServerConfig,
    describe_faults,
    parse_faults,
    serve_forever,
)

HELP = """Run the local server: Cartesia's three STT endpoints, offline, on one port.

It speaks Auto (/stt/turns/websocket: connected / turn.* / error events, close -> flush ->
1000, overload protection), Manual (/stt/websocket: finalize -> finals + flush_done, close
-> finals + done + 1000) and Batch (POST /stt, multipart) like the service (auth, version,
parameter checks, error bodies), so jobrunner, the official SDK
(base_url="http://127.0.0.1:PORT") or any Cartesia client can use it. Prints one line with
its URL on stderr; stops on Ctrl-C or SIGTERM.

\b
Engines:
  tones     deterministic: decodes text from audio made by jobrunner.server.tones
            (tests, chaos runs, benchmarks); knows nothing of speech
  whisper   real offline speech recognition (needs: pip install 'jobrunner[asr]')

\b
Fault spec (--faults), comma-separated KIND[@SECONDS]=WHEN, WHEN = probability or first:N:
  upgrade_503=0.2      HTTP 503 on 20 % of upgrades (any 4xx/5xx status: upgrade_429 ...)
  error_500@1=first:2  error event (status 500) after 1 s of audio, first 2 sessions;
                       then close 1011 (4xx statuses: close 1008)
  drop@1.5=0.1         abrupt TCP close (client sees 1006) after 1.5 s of audio
  stall=0.1            no more events, never closes (from SECONDS of audio; default: at
                       the client's close)
  slow_drain@3=0.2     wait 3 s after the client's close before the final events
  drop_text@2=0.2      silent: the first turn starting after 2 s of audio has no updates
                       and an empty turn.end (coverage check: jobrunner jobs --uncovered)
  end_early@2=0.2      silent: no turn starting after 2 s of audio is reported; the
                       session still flushes and closes 1000
  no_done=0.1          Manual: finals after close but never done nor a close
  late_interim=0.1     Manual: an is_final false transcript after the last final
  batch_503=0.2        Batch: HTTP 503 (any 4xx/5xx; 429 and 503 carry Retry-After)
  batch_slow@3=0.2     Batch: answer 3 s late
  batch_garbage=0.1    Batch: a 200 whose body is not JSON
  batch_shape=0.1      Batch: a 200 JSON without the transcript's fields
  limit=5              at most 5 faults in total
A fault whose SECONDS are not reached fires at the client's close. Same --seed, same faults.

\b
Choices where the service is silent: sample_rate must be an integer 8000-48000 Hz; a
missing cartesia-version is accepted; bad parameters -> error event 400 + close 1008;
overload (audio faster than --max-rate x realtime beyond --burst-s seconds) -> error 500 +
close 1011.

\b
The key: --api-key KEY on the command line is visible to every user of the machine (ps);
prefer the environment (JOBRUNNER_SERVE_API_KEY) or a file only you can read
(--api-key-file PATH or JOBRUNNER_SERVE_API_KEY_FILE; surrounding whitespace is ignored).

\b
Examples:
  jobrunner serve
  jobrunner serve --port 0 --api-key-file ~/.config/serve.key   # any free port, keys checked
  jobrunner serve --faults 'upgrade_429=0.3,drop=0.1,limit=20' --seed 7
  jobrunner serve --max-sessions 4 --max-rate 0       # 429 above 4; no overload check
  jobrunner serve --engine whisper
  JOBRUNNER_SERVE_API_KEY="$KEY" jobrunner serve --host 0.0.0.0 --public
  CARTESIA_BASE_URL=http://127.0.0.1:8765 jobrunner transcribe call.wav
"""


@click.command("serve", help=HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port (0: any free)."
)
@click.option(
    "--api-key",
    envvar="JOBRUNNER_SERVE_API_KEY",
    metavar="KEY",
    help="Require this key (env JOBRUNNER_SERVE_API_KEY). Without a key, any key is accepted.",
)
@click.option(
    "--api-key-file",
    envvar="JOBRUNNER_SERVE_API_KEY_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Require the key stored in this file (env JOBRUNNER_SERVE_API_KEY_FILE).",
)
@click.option(
    "--engine",
    type=click.Choice(sorted(RECOGNIZERS)),
    default="tones",
    show_default=True,
    help="Recognizer behind the endpoint.",
)
@click.option("--faults", metavar="SPEC", help="Fault injection rules (see above).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fault draws.")
@click.option(
    "--max-sessions",
    type=click.IntRange(min=1),
    metavar="N",
    help="Hard concurrency limit: beyond N open sessions and Batch requests, HTTP 429.",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0),
    default=1.25,
    show_default=True,
    help="Overload check: audio faster than X times realtime (0 disables).",
)
@click.option(
    "--burst-s",
    type=click.FloatRange(min=0),
    default=1.5,
    show_default=True,
    help="Seconds of audio a client may send ahead before the overload check trips.",
)
@click.option(
    "--public", is_flag=True, help="Allow binding to a non-loopback --host (needs a key)."
)
def serve_command(
    host: str,
    port: int,
    api_key: str | None,
    api_key_file: Path | None,
    engine: str,
    faults: str | None,
    seed: int,
    max_sessions: int | None,
    max_rate: float,
    burst_s: float,
    public: bool,
) -> None:

    if api_key_file is not None and api_key:
        raise UsageError("give the key one way: --api-key (or its environment) or --api-key-file")
    key = _read_key(api_key_file) if api_key_file is not None else Secret(api_key or "")
    spec = parse_faults(faults)
    config = ServerConfig(
        host=host,
        port=port,
        api_key=key,
        engine=engine,
        faults=spec,
        seed=seed,
        max_sessions=max_sessions,
        max_rate=max_rate,
        burst_s=burst_s,
        public=public,
    )

    def ready(app: RealtimeServer) -> None:
        details = [f"engine {engine}", "API key required" if key else "no API key"]
        if spec:
            details.append(f"faults: {describe_faults(spec.rules)} (seed {seed})")
        if max_sessions:
            details.append(f"max {max_sessions} sessions")
        click.echo(f"jobrunner serve: listening on {app.url} ({'; '.join(details)})", err=True)

    try:
        asyncio.run(serve_forever(config, ready=ready))
    except KeyboardInterrupt:
        click.echo("jobrunner serve: stopped", err=True)


def _read_key(path: Path) -> Secret:
    """The key in ``path``, without the surrounding whitespace (a trailing newline)."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --api-key-file {path}: {exc}") from exc
    if not key or len(key.split()) != 1:
        raise UsageError(f"--api-key-file {path} must hold one key (it holds {len(key.split())})")
    return Secret(key)
