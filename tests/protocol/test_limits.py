"""The client's and the server's checks of the shared wire limits agree at every boundary.

They are separate code on purpose (a bug must not be mirrored); this holds them to one answer.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from jobrunner.errors import ConfigError
from jobrunner.protocol.handshake import StreamParams, build_url
from jobrunner.protocol.limits import (
    ENCODINGS,
    MAX_KEYTERM_CHARS,
    MAX_KEYTERMS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    TURN_PARAMETERS,
)
from jobrunner.server.params import Rejection, parse_request

BASIC = StreamParams(model="ink-2", encoding="pcm_s16le", sample_rate=16000)


def verdicts(params: StreamParams) -> tuple[bool, bool]:
    """(client accepts, server accepts) for the same parameters."""
    try:
        url = build_url("http://127.0.0.1:8765", params)
    except ConfigError:
        client = False
        query = params.query_pairs()
    else:
        client = True
        query = parse_qsl(urlsplit(url).query)
    server = not isinstance(parse_request(query), Rejection)
    return client, server


def cases() -> list[tuple[str, dict[str, object], bool]]:
    out: list[tuple[str, dict[str, object], bool]] = []
    for name, limits in TURN_PARAMETERS.items():
        step = 1.0 if name.endswith("_ms") else 0.01
        for value, ok in [
            (limits.low, True),
            (limits.high, True),
            (limits.low - step, False),
            (limits.high + step, False),
        ]:
            # keep the others where the ordering start > eager end > end still holds
            others: dict[str, object] = {}
            if name == "turn_start_threshold":
                others = {"turn_eager_end_threshold": 0.3, "turn_end_threshold": 0.05}
            elif name == "turn_eager_end_threshold":
                others = {"turn_start_threshold": 0.9, "turn_end_threshold": 0.05}
            elif name == "turn_end_threshold":
                others = {"turn_start_threshold": 0.9, "turn_eager_end_threshold": 0.6}
            if name.endswith("_ms"):
                value = int(value)
            out.append((f"{name}={value}", {name: value, **others}, ok))
    for rate, ok in [
        (MIN_SAMPLE_RATE, True),
        (MAX_SAMPLE_RATE, True),
        (MIN_SAMPLE_RATE - 1, False),
        (MAX_SAMPLE_RATE + 1, False),
    ]:
        out.append((f"sample_rate={rate}", {"sample_rate": rate}, ok))
    out += [(f"encoding={e}", {"encoding": e}, True) for e in ENCODINGS]
    out.append(("encoding=pcm_s24le", {"encoding": "pcm_s24le"}, False))
    many = tuple(f"k{i}" for i in range(MAX_KEYTERMS))
    out.append(("keyterms at the limit", {"keyterms": many}, True))
    out.append(("one keyterm too many", {"keyterms": (*many, "x")}, False))
    half = MAX_KEYTERM_CHARS // 2
    out.append(("keyterm chars at the limit", {"keyterms": ("a" * half, "b" * half)}, True))
    out.append(("one keyterm char too many", {"keyterms": ("a" * half, "b" * (half + 1))}, False))
    return out


CASES = cases()


@pytest.mark.parametrize(("changes", "ok"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_client_and_server_agree(changes: dict[str, object], ok: bool) -> None:
    params = StreamParams(**{**vars(BASIC), **changes})
    assert verdicts(params) == (ok, ok)
