"""TXT: a job's transcript exactly as stored (the ``turn.end`` texts joined verbatim), then one
newline. Reading a file back and removing that last newline gives the transcript unchanged."""

from __future__ import annotations

from collections.abc import Iterator

from jobrunner.store import ExportJob


def txt(job: ExportJob) -> Iterator[str]:
    yield (job.transcript or "") + "\n"
