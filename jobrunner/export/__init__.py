"""Export transcripts from the job store: JSONL, CSV, SRT, WebVTT, TXT.

Public API::

    from jobrunner.export import export
    summary = export(store, "csv", by="turn", states=["succeeded"], out=Path("out.csv"))
    export(store, "jsonl", out=sys.stdout.buffer)          # a binary stream: written as is
    export(store, "srt", out=Path("subs/"))                 # one file per job
    export(store, "vtt", out=Path("subs/"), times="event")  # cues at event times
    export(store, "srt", out=Path("subs/"), channel_labels=["agent", "caller"])

Jobs are streamed from the store page by page (:meth:`Store.iter_export`), so memory does not
grow with the number of jobs or turns. ``jsonl`` and ``csv`` write one document, ``srt``,
``vtt`` and ``txt`` one file per job that has a transcript into a folder. Output never appears
half-written (see :mod:`jobrunner.export.output`). Fields: :mod:`jobrunner.export.fields`.

Modules: ``fields`` (names, order, values), ``jsonl``, ``csv``, ``subtitles`` (SRT/WebVTT),
``text`` (TXT), ``dialogue`` (the turns of all channels in speech order, channel labels),
``output`` (atomic files and folders), ``owned`` (which files of a folder an export wrote, so it
never replaces a user's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, Literal, TextIO

from jobrunner.errors import UsageError
from jobrunner.export.csv import write_csv
from jobrunner.export.jsonl import write_jsonl
from jobrunner.export.output import atomic_file, staged_folder, text_stream
from jobrunner.export.subtitles import TIMES, Times, srt, vtt
from jobrunner.export.text import txt
from jobrunner.store import ExportJob, Store

Format = Literal["jsonl", "csv", "srt", "vtt", "txt"]
By = Literal["file", "turn"]

Writer = Callable[[Iterable[ExportJob], str, TextIO, Sequence[str]], tuple[int, int]]
Renderer = Callable[[ExportJob], Iterator[str]]

#: formats written as one document (a file or a stream)
DOCUMENT_FORMATS: Final[dict[str, Writer]] = {"jsonl": write_jsonl, "csv": write_csv}
#: formats written as one file per job into a folder: suffix and renderer
FOLDER_FORMATS: Final[dict[str, tuple[str, Renderer]]] = {
    "srt": (".srt", srt),
    "vtt": (".vtt", vtt),
    "txt": (".txt", txt),
}
FORMATS: Final = (*DOCUMENT_FORMATS, *FOLDER_FORMATS)


@dataclass(frozen=True)
class ExportSummary:
    jobs: int  # jobs that matched the filters
    turns: int  # turns written (for folder formats: turns of the jobs written)
    files: int  # files written: 1 for a document (0 on a stream), else one per job
    skipped: int  # folder formats: matched jobs without a transcript (nothing to write)
    destination: str

    def line(self) -> str:
        """The one line the CLI prints (on stderr, so stdout stays the data)."""
        text = f"exported {self.jobs} jobs, {self.turns} turns to {self.destination}"
        if self.destination.endswith("/"):
            text += f" ({self.files} files"
            if self.skipped:
                text += f"; {self.skipped} jobs without a transcript skipped"
            text += ")"
        return text


def export(
    store: Store,
    fmt: Format = "jsonl",
    by: By = "file",
    states: Iterable[str] | None = None,
    label: str | None = None,
    out: Path | BinaryIO | None = None,
    *,
    bom: bool = False,
    overwrite: bool = False,
    page_size: int = 200,
    times: Times = "speech",
    channel_labels: Sequence[str] = (),
) -> ExportSummary:
    """Export the jobs matching ``states``/``label`` (all jobs by default, in id order).

    ``out``: a file path or a binary stream for ``jsonl``/``csv``; a folder path for
    ``srt``/``vtt``/``txt``. ``by="turn"`` (one record per turn) applies to ``jsonl``/``csv``.
    ``bom`` (``csv`` only) starts the output with a UTF-8 byte order mark, for Excel.
    ``overwrite`` (folder formats) lets the export replace files in the folder that no export
    wrote; by default such a file is a :class:`UsageError` and nothing is written. A document
    (``-o FILE``) is the file the caller named, and is always replaced. ``times`` (``srt`` and
    ``vtt``): cues at the turns' speech times (``speech``, event times where the speech map
    cannot say) or at their event times (``event``). ``channel_labels`` name channels 0, 1, ...
    (the ``speaker`` of a turn, the ``label`` in a dialogue; SRT/VTT cues are prefixed with it
    when given, or when a job has turns on several channels).
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r} (choose from: {', '.join(FORMATS)})")
    if by not in ("file", "turn"):
        raise UsageError(f"--by must be 'file' or 'turn', got {by!r}")
    if bom and fmt != "csv":
        raise UsageError("--bom is for --format csv only")
    if times not in TIMES:
        raise UsageError(f"--times must be one of {', '.join(TIMES)}, got {times!r}")
    states = None if states is None else tuple(states)
    if fmt in FOLDER_FORMATS:
        if by != "file":
            raise UsageError(f"--by turn is for jsonl and csv; {fmt} writes one file per job")
        if not isinstance(out, Path):
            raise UsageError(f"--format {fmt} writes one file per job: give -o FOLDER")
        return _export_folder(
            store, fmt, states, label, out, page_size, overwrite, times, tuple(channel_labels)
        )
    write = DOCUMENT_FORMATS[fmt]
    if out is None:
        raise UsageError(f"--format {fmt}: give -o FILE or -o - for stdout")
    jobs = store.iter_export(states=states, label=label, page_size=page_size)
    if isinstance(out, Path):
        with atomic_file(out, bom=bom) as f:
            n_jobs, n_turns = write(jobs, by, f, tuple(channel_labels))
        return ExportSummary(n_jobs, n_turns, 1, 0, str(out))
    with text_stream(out, bom=bom) as f:
        n_jobs, n_turns = write(jobs, by, f, tuple(channel_labels))
    return ExportSummary(n_jobs, n_turns, 0, 0, "stdout")


def _export_folder(
    store: Store,
    fmt: str,
    states: tuple[str, ...] | None,
    label: str | None,
    target: Path,
    page_size: int,
    overwrite: bool,
    times: Times,
    labels: tuple[str, ...],
) -> ExportSummary:
    suffix, render = FOLDER_FORMATS[fmt]
    if render in (srt, vtt):
        render = partial(render, times=times, labels=labels)
    n_jobs = n_turns = skipped = 0
    with staged_folder(target, suffix, overwrite=overwrite) as folder:
        for e in store.iter_export(states=states, label=label, page_size=page_size):
            n_jobs += 1
            if e.transcript is None:
                skipped += 1
                continue
            n_turns += len(e.turns)
            folder.write(folder.name_for(e.job.path, e.job.id), render(e))
    return ExportSummary(n_jobs, n_turns, folder.files, skipped, f"{target}/")


__all__ = [
    "DOCUMENT_FORMATS",
    "FOLDER_FORMATS",
    "FORMATS",
    "TIMES",
    "By",
    "ExportSummary",
    "Format",
    "Times",
    "export",
]
