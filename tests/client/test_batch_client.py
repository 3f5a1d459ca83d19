"""The Batch client against a fake of the service (httpx's MockTransport): what it sends, what
it makes of each answer, and which answers it retries. No sleeps: ``sleep`` is recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import fast_settings

from jobrunner.client.batch import BatchResult, batch_url, transcribe_batch
from jobrunner.config import Settings
from jobrunner.errors import (
    AuthenticationError,
    ProtocolViolationError,
    RateLimitedError,
    RequestRejectedError,
    ServerErrorEvent,
    SessionError,
)

pytestmark = pytest.mark.anyio

ANSWER = {
    "type": "transcript",
    "text": " Hello there. Bye.",
    "duration": 2.5,
    "language": "en",
    "request_id": "batch-1",
    "words": [{"word": "Hello", "start": 0.2, "end": 0.5}],
}
Handler = Callable[[httpx.Request], httpx.Response]


def form(request: httpx.Request) -> dict[str, Any]:
    """The multipart form as a server's parser reads it (field -> value, file -> bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = part.get_payload(decode=True)
    return fields


class Fake:
    """A scripted service: one handler per request, in order; the last one repeats."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []
        self.retried: list[tuple[SessionError, float]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def run(self, path: Path, settings: Settings) -> BatchResult:
        return await transcribe_batch(
            path,
            settings,
            transport=httpx.MockTransport(self),
            sleep=self.sleep,
            on_connect_retry=lambda error, wait: self.retried.append((error, wait)),
        )


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=ANSWER)


def status(code: int, message: str = "nope", **headers: str) -> Handler:
    body = {"error_code": "x", "title": "T", "message": message, "request_id": f"r{code}"}
    return lambda request: httpx.Response(code, json=body, headers=headers)


SETTINGS = fast_settings(base_url="http://batch.test/prefix", endpoint="batch", api_key="k")


@pytest.fixture
def tone_bytes(tone_wav: Path) -> bytes:
    return tone_wav.read_bytes()


async def test_the_request_is_the_documented_form_and_the_answer_is_kept_verbatim(
    tone_wav: Path, tone_bytes: bytes
) -> None:
    fake = Fake(ok)
    result = await fake.run(tone_wav, SETTINGS)
    [request] = fake.requests
    assert str(request.url) == "http://batch.test/prefix/stt"
    assert request.headers["authorization"] == "Bearer k"
    assert int(request.headers["content-length"]) == len(request.content)
    fields = form(request)
    assert fields["model"] == b"ink-whisper" and fields["language"] == b"en"
    assert fields["timestamp_granularities[]"] == b"word"
    assert fields["file"] == tone_bytes
    assert result.transcript == ANSWER["text"] and result.request_id == "batch-1"
    assert (result.answer.duration, result.answer.language) == (2.5, "en")
    assert [w.word for w in result.answer.words] == ["Hello"]
    assert result.bytes_sent == len(tone_bytes) and result.tries == 1


async def test_429_and_5xx_are_retried_honouring_retry_after(tone_wav: Path) -> None:
    fake = Fake(status(429, "slow down", **{"Retry-After": "0.07"}), status(503), ok)
    result = await fake.run(tone_wav, SETTINGS)
    assert result.tries == 3 and result.transcript == ANSWER["text"]
    assert fake.slept[0] == pytest.approx(0.07)  # the service's wait, longer than the backoff
    assert isinstance(fake.retried[0][0], RateLimitedError)
    assert isinstance(fake.retried[1][0], ServerErrorEvent)


async def test_5xx_past_the_tries_is_raised_retryable_with_its_facts(tone_wav: Path) -> None:
    fake = Fake(status(502, "bad gateway"))
    with pytest.raises(ServerErrorEvent, match="HTTP 502 .*bad gateway") as caught:
        await fake.run(tone_wav, SETTINGS)
    assert caught.value.retryable and caught.value.http_status == 502
    assert caught.value.facts is not None
    assert caught.value.facts.connect_tries == SETTINGS.connect_tries == len(fake.requests)


async def test_a_retry_after_beyond_the_queues_cap_is_left_to_the_queue(tone_wav: Path) -> None:
    fake = Fake(status(429, **{"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as caught:
        await fake.run(tone_wav, SETTINGS)
    assert len(fake.requests) == 1 and not fake.slept
    assert caught.value.retry_after_s == 3600.0  # retry.decide waits it


@pytest.mark.parametrize("code", [401, 402, 403])
async def test_auth_failures_are_not_retried(tone_wav: Path, code: int) -> None:
    fake = Fake(status(code, "invalid key"))
    with pytest.raises(AuthenticationError, match="invalid key") as caught:
        await fake.run(tone_wav, SETTINGS)
    assert caught.value.exit_code == 3 and len(fake.requests) == 1


@pytest.mark.parametrize("code", [400, 404, 413, 422])
async def test_rejections_fail_fast_with_the_bodys_message(tone_wav: Path, code: int) -> None:
    fake = Fake(status(code, f"reason {code}"))
    with pytest.raises(RequestRejectedError, match=f"HTTP {code} .*reason {code}") as caught:
        await fake.run(tone_wav, SETTINGS)
    assert not caught.value.retryable and len(fake.requests) == 1
    assert caught.value.request_id == f"r{code}"


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b"[]", json.dumps({"type": "transcript"}).encode()],
)
async def test_a_200_that_is_not_the_documented_json_is_a_retryable_error(
    tone_wav: Path, body: bytes
) -> None:
    fake = Fake(lambda request: httpx.Response(200, content=body))
    with pytest.raises(ProtocolViolationError, match="batch answer") as caught:
        await fake.run(tone_wav, SETTINGS)
    assert caught.value.retryable and len(fake.requests) == 1


def test_the_url_keeps_the_prefix_and_serves_websocket_profiles() -> None:
    assert batch_url("ws://127.0.0.1:8765/") == "http://127.0.0.1:8765/stt"
    assert batch_url("https://api.cartesia.ai?x=1") == "https://api.cartesia.ai/stt?x=1"
