"""One Batch request (``POST /stt``): a multipart upload in, one JSON transcript out.

The contract (``protocol.md`` section 6) from the server's side. The form's fields: ``file``
(required), ``model`` (required: ``ink-whisper``), ``language`` (default ``en``),
``timestamp_granularities[]`` (``word``: the answer carries ``words``; without it, none).
The query may name ``encoding`` and ``sample_rate`` for a raw PCM upload, as the SDK allows.
The answer::

    {"type": "transcript", "text": ..., "duration": s, "language": "en", "request_id": ...,
     "words": [{"word": ..., "start": s, "end": s}]}

Errors carry the service's body (``error_code``, ``title``, ``message``, ``request_id``): 400
for a form that is not multipart, a missing or bad field or audio that cannot be decoded; 413
for a file over the upload limit (the limit is named; the rest of the upload is read and
dropped so the client sees the answer, not a reset). The file is spooled to disk past 8 MiB.
Faults (``batch_NNN``, ``batch_slow``, ``batch_garbage``, ``batch_shape``) are chosen once the
upload is read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import uuid
from typing import IO, Any, Final

from aiohttp import BodyPartReader, web

from jobrunner.protocol.limits import ENCODINGS
from jobrunner.server.faults import Fault, FaultInjector
from jobrunner.server.gate import error_response
from jobrunner.server.offline import UndecodableAudio, read_audio, transcribe
from jobrunner.server.params import BATCH_MODELS, check_language
from jobrunner.server.recognizer import Recognizer
from jobrunner.server.recorder import Recorder
from jobrunner.server.session import recognizer_threads

log = logging.getLogger(__name__)

SPOOL_BYTES: Final = 8 << 20
MAX_FIELD_BYTES: Final = 64 << 10
CHUNK_BYTES: Final = 1 << 16
GRANULARITIES: Final = ("timestamp_granularities[]", "timestamp_granularities")


class Refusal(Exception):
    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


class BatchHandler:
    """Answers one ``POST /stt``; ``request_id`` names it in the answer and the records."""

    def __init__(
        self,
        request: web.Request,
        *,
        number: int,
        recognizer: Recognizer,
        faults: FaultInjector,
        recorder: Recorder,
        max_upload_bytes: int,
    ) -> None:
        self.recorder = recorder
        self.request = request
        self.number = number
        self.recognizer = recognizer
        self.faults = faults
        self.max_upload_bytes = max_upload_bytes
        self.request_id = str(uuid.uuid4())
        self.fields: list[tuple[str, str]] = []
        self.file: IO[bytes] | None = None

    async def run(self) -> web.Response:
        try:
            try:
                await self._read_form()
                fault = self.faults.for_batch(self.number)
                if fault is not None:
                    faulty = await self._fault(fault)
                    if faulty is not None:
                        return faulty
                return await self._answer()
            except Refusal as refusal:
                return error_response(
                    refusal.status, refusal.error_code, refusal.message, self.request_id
                )
        finally:
            if self.file is not None:
                self.file.close()

    # --- the form -----------------------------------------------------------------------

    async def _read_form(self) -> None:
        if self.request.content_type == "application/x-www-form-urlencoded":
            form = await self.request.post()  # fields only (no file); aiohttp caps it at 1 MiB
            self.fields = [(k, v) for k, v in form.items() if isinstance(v, str)]
            return
        if self.request.content_type != "multipart/form-data":
            raise Refusal(400, "invalid_request", "the body must be multipart/form-data")
        reader = await self.request.multipart()
        too_big = False
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: not a field of this form
            if part.name == "file":
                too_big = await self._spool(part) or too_big
            elif part.name:
                self.fields.append((part.name, await self._field(part)))
        if too_big:
            raise Refusal(
                413,
                "file_too_large",
                f"the file is larger than this server's upload limit of {self.max_upload_bytes} "
                f"bytes ({self.max_upload_bytes / 1e6:g} MB); split it",
            )

    async def _spool(self, part: BodyPartReader) -> bool:
        """Read the file part to a spooled file; True when it is over the limit (dropped)."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        if self.file is not None:
            self.file.close()
        self.file = spool
        size = 0
        while chunk := await part.read_chunk(CHUNK_BYTES):
            size += len(chunk)
            if size <= self.max_upload_bytes:
                spool.write(chunk)
        spool.seek(0)
        return size > self.max_upload_bytes

    async def _field(self, part: BodyPartReader) -> str:
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK_BYTES):
            data += chunk
            if len(data) > MAX_FIELD_BYTES:
                raise Refusal(400, "invalid_request", f"form field {part.name!r} is too long")
        return data.decode("utf-8", errors="replace")

    def _value(self, *names: str) -> str | None:
        values = [v for k, v in self.fields if k in names]
        return values[-1] if values else None

    # --- the answer ---------------------------------------------------------------------

    async def _answer(self) -> web.Response:
        model = self._value("model")
        if not model:
            raise Refusal(400, "missing_parameter", "model is required (use 'ink-whisper')")
        if model not in BATCH_MODELS:
            raise Refusal(
                400,
                "invalid_model",
                f"unknown model {model!r} for batch (use {', '.join(BATCH_MODELS)})",
            )
        language = self._value("language") or "en"
        if (rejected := check_language(language)) is not None:
            raise Refusal(400, rejected.error_code, rejected.message)
        granularities = [v for k, v in self.fields if k in GRANULARITIES]
        if any(g != "word" for g in granularities):
            raise Refusal(400, "invalid_parameter", "timestamp_granularities[] takes only 'word'")
        upload = self.file
        if upload is None:
            raise Refusal(400, "missing_parameter", "file is required")
        encoding, rate = self._raw_format()
        loop = asyncio.get_running_loop()
        pool = recognizer_threads()
        try:
            audio = await loop.run_in_executor(
                pool, lambda: read_audio(upload, encoding=encoding, sample_rate=rate)
            )
        except UndecodableAudio as exc:
            raise Refusal(400, "invalid_audio", str(exc)) from exc
        transcript = await loop.run_in_executor(pool, transcribe, self.recognizer, audio)
        body: dict[str, Any] = {
            "type": "transcript",
            "text": transcript.text,
            "duration": round(audio.duration_s, 3),
            "language": language,
            "request_id": self.request_id,
        }
        if granularities:
            body["words"] = [word.as_json() for word in transcript.words]
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def _raw_format(self) -> tuple[str | None, int | None]:
        query = self.request.query
        encoding = query.get("encoding")
        if encoding is None:
            return None, None
        if encoding not in ENCODINGS:
            raise Refusal(400, "invalid_encoding", f"unsupported encoding {encoding!r}")
        raw_rate = query.get("sample_rate", "")
        if not raw_rate.isdigit():
            raise Refusal(400, "invalid_sample_rate", "raw PCM needs an integer sample_rate")
        return encoding, int(raw_rate)

    async def _fault(self, fault: Fault) -> web.Response | None:
        """The injected answer, or None to answer normally (after a ``batch_slow`` delay)."""
        log.info("fault %s injected (request %s)", fault.label, self.request_id)
        self.recorder.fault(fault.label)
        if fault.kind == "batch_status":
            assert fault.status is not None
            return error_response(
                fault.status, "injected_fault", f"injected fault: {fault.label}", self.request_id
            )
        if fault.kind == "batch_garbage":
            return web.Response(
                status=200, text="<html><body>upstream busy</body></html>", content_type="text/html"
            )
        if fault.kind == "batch_shape":
            return web.json_response({"type": "transcript", "result": None})
        await asyncio.sleep(fault.delay_s)
        return None


__all__ = ["BatchHandler"]
