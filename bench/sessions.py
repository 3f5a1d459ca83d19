"""Child process: N concurrent ``transcribe_file`` sessions in one event loop, results as JSON.

    python -m bench.sessions --url http://127.0.0.1:PORT --sessions 200 [--pace 1] FILE...

Session ``i`` streams ``FILE[i % len(FILE)]``; all start together. This is the session code
``jobrunner run`` drives (the worker adds the database around it), so pacing and per-session
cost measured here are the client's own. Prints one JSON document on stdout: per-session
pacing stats, every chunk's lateness pooled over all sessions (p50/p99/max), failures, the
transcripts that differ from ``--expect`` (a JSON list, same order as FILE), and phase times
on ``time.monotonic()`` (the same clock as the parent's): ``all_streaming`` when every session
had sent its first chunk, ``first_closed`` when the first one sent its close. Lateness is also
given for the chunks sent between those two (the steady window: no connects, no closes), and
the event loop's own lag (how late a 10 ms sleep wakes up) for comparison.

PacingStats keeps per-session percentiles only, so this process wraps the runner's Pacer to
also keep every chunk's lateness; that instrumentation is the only thing it changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from array import array
from collections import Counter
from typing import Any

import anyio
import numpy as np

import jobrunner.client.auto as runner_module
from jobrunner.client.pacer import Pacer
from jobrunner.config import LOOPS, Settings
from jobrunner.errors import JobrunnerError
from jobrunner.run.loop import backend_options

LATENESS = array("f")
SENT_AT = array("d")
STARTED: list[float] = []
CLOSED: list[float] = []


class RecordingPacer(Pacer):
    """The runner's pacer, also keeping every chunk's lateness and the phase times."""

    def start(self, now: float) -> None:
        super().start(now)
        STARTED.append(time.monotonic())

    def sent(self, audio_offset_s: float, audio_len_s: float, now: float) -> None:
        super().sent(audio_offset_s, audio_len_s, now)
        LATENESS.append(max(0.0, now - self.due(audio_offset_s)))
        SENT_AT.append(time.monotonic())

    def closed(self, now: float) -> None:
        super().closed(now)
        CLOSED.append(time.monotonic())


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(1, int(-(-q * len(ordered) // 1))) - 1]


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        base_url=args.url,
        pace=args.pace,
        open_timeout_s=60.0,
        connect_tries=5,
        backoff_base_s=0.2,
        backoff_cap_s=2.0,
        stall_timeout_s=60.0,
        drain_timeout_s=60.0,
    )
    expect: list[str] | None = args.expect
    sessions: list[dict[str, Any]] = []
    failures: Counter[str] = Counter()
    wrong = 0

    async def one(i: int) -> None:
        nonlocal wrong
        index = i % len(args.files)
        try:
            result = await runner_module.transcribe_file(args.files[index], settings)
        except JobrunnerError as exc:
            failures[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            return
        if expect is not None and result.transcript != expect[index]:
            wrong += 1
        p = result.pacing
        sessions.append(
            {
                "audio_s": p.audio_s,
                "wall_s": p.wall_s,
                "mean_rate": p.mean_rate,
                "max_lead_s": p.max_lead_s,
                "p99_lateness_s": p.p99_lateness_s,
                "connect_s": result.connect_s,
                "connect_tries": result.connect_tries,
                "drain_s": result.drain_s,
            }
        )

    lags: list[float] = []

    async def watch_loop() -> None:
        """How late a 10 ms sleep wakes up: the event loop's own lag."""
        while True:
            before = time.monotonic()
            await anyio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    started = time.monotonic()
    async with anyio.create_task_group() as outer:
        outer.start_soon(watch_loop)
        async with anyio.create_task_group() as tg:
            for i in range(args.sessions):
                tg.start_soon(one, i)
        outer.cancel_scope.cancel()
    ended = time.monotonic()
    lags.sort()
    ordered = sorted(LATENESS)
    all_streaming = max(STARTED) if len(STARTED) == args.sessions else None
    first_closed = min(CLOSED) if CLOSED else None
    steady = sorted(
        late
        for late, at in zip(LATENESS, SENT_AT, strict=True)
        if all_streaming is not None and first_closed is not None
        and all_streaming <= at <= first_closed
    )  # fmt: skip
    return {
        "sessions": args.sessions,
        "ok": len(sessions),
        "failures": dict(failures),
        "wrong_transcripts": wrong,
        "started": started,
        "ended": ended,
        "all_streaming": all_streaming,
        "first_closed": first_closed,
        "chunks": len(ordered),
        "lateness_p50_s": _pct(ordered, 0.50),
        "lateness_p99_s": _pct(ordered, 0.99),
        "lateness_max_s": ordered[-1] if ordered else 0.0,
        "steady_chunks": len(steady),
        "steady_lateness_p50_s": _pct(steady, 0.50),
        "steady_lateness_p99_s": _pct(steady, 0.99),
        "loop_lag_p50_s": _pct(lags, 0.50),
        "loop_lag_p99_s": _pct(lags, 0.99),
        "per_session": sessions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--loop", choices=LOOPS, default="auto", help="as jobrunner run --loop")
    parser.add_argument("--expect", help="JSON file: the expected transcripts, one per FILE")
    parser.add_argument("--raw", help="also write every chunk's lateness and send time (.npz)")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if args.expect:
        with open(args.expect, encoding="utf-8") as fh:
            args.expect = json.load(fh)
    runner_module.Pacer = RecordingPacer  # type: ignore[attr-defined]
    result = anyio.run(_main, args, backend_options=backend_options(args.loop))
    if args.raw:
        np.savez(args.raw, lateness=np.asarray(LATENESS), sent_at=np.asarray(SENT_AT))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
