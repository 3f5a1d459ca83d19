"""The local realtime server as a separate benchmark process, with raised limits and a stats pipe.

    python -m bench.server [--engine tones|sink] [--max-rate X] [--burst-s S] [--backlog N]

It runs the same :class:`~jobrunner.server.app.RealtimeServer` as ``jobrunner serve`` (the
click command adds nothing but option parsing and a banner) and differs in three ways, all for
measuring:

* limits: the soft ``RLIMIT_NOFILE`` is raised to the hard limit (every session is one file
  descriptor on each side) and the listen backlog to ``--backlog`` (asyncio's default is 100:
  a burst of 1,000 connects would overflow it and the dropped SYNs come back a second later,
  which would show up as connect time, not as anything jobrunner does);
* ``OPENBLAS_NUM_THREADS=1`` (set by :class:`bench.common.BenchServer`): the tones decoder does
  a small matrix product per symbol, and OpenBLAS' thread pool spins on both cores for each
  of them: 2.4 ms of CPU per audio second with one thread, about 90 ms with the pool;
* a control pipe: it prints ``{"url": ...}`` on stdout once listening, answers each ``stats``
  line on stdin with a JSON snapshot of :class:`~jobrunner.server.recorder.ServerStats`, and
  stops when stdin closes.

``--engine sink`` accepts and decodes the audio like any session but recognizes nothing (no
turn events): the server then costs only the websocket and PCM decoding, which leaves the CPU
to the client when 1,000 sessions are measured on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import resource
import sys

from jobrunner.protocol.events import ConfigRequest
from jobrunner.server.app import RealtimeServer, ServerConfig
from jobrunner.server.recognizer import Float32Array, get_recognizer
from jobrunner.server.turn_detector import TurnParams
from jobrunner.server.words import EngineEvent


class SinkSession:
    blocking = False

    def feed(self, samples: Float32Array) -> list[EngineEvent]:
        return []

    def configure(self, request: ConfigRequest) -> None:
        pass

    def finish(self) -> list[EngineEvent]:
        return []

    def cut(self) -> list[EngineEvent]:
        return []


class SinkEngine:
    """Takes audio, says nothing: a session ends with an empty transcript."""

    name = "sink"

    def open(
        self, sample_rate: int, turn: TurnParams, *, words: bool = False, turns: bool = True
    ) -> SinkSession:
        return SinkSession()


def raise_nofile() -> int:
    """Soft file-descriptor limit up to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return int(target)
    return int(soft)


async def _serve(args: argparse.Namespace) -> None:
    config = ServerConfig(port=0, max_rate=args.max_rate, burst_s=args.burst_s)
    engine = SinkEngine() if args.engine == "sink" else get_recognizer(args.engine)
    app = RealtimeServer(config, engine)
    app.backlog = args.backlog
    nofile = raise_nofile()
    await app.start()
    loop = asyncio.get_running_loop()
    sys.stdout.write(json.dumps({"url": app.url, "nofile": nofile, "backlog": args.backlog}) + "\n")
    sys.stdout.flush()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip() == "stats":
                snapshot = dataclasses.asdict(app.stats)
                sys.stdout.write(json.dumps(snapshot) + "\n")
                sys.stdout.flush()
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="tones", choices=["tones", "sink"])
    parser.add_argument("--max-rate", type=float, default=1.25)
    parser.add_argument("--burst-s", type=float, default=1.5)
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
