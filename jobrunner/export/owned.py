"""Which files of a folder jobrunner's exports wrote, so a re-export replaces its own files and
never a user's.

A folder export names files after the audio (``call1.wav`` -> ``call1.txt``), and people export
into the folder that holds the recordings, where ``call1.txt`` may well be their own notes. Each
folder export therefore records, in a hidden :data:`LEDGER` file in that folder, the name and
sha256 of every file it wrote. A later export may replace a file only if the ledger lists it
with its current content: a file the user made, or edited since, is refused (the CLI's
``--overwrite`` lifts that). The ledger is rewritten before files are moved into place, so a
crash in between can only make the next export refuse a file, never replace one it should not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

#: the ledger's file name: hidden, and never a name an export gives a job's file
LEDGER = ".jobrunner-export.json"
_SCHEMA = "jobrunner.export-ledger/1"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class OwnedFiles:
    """The ledger of one folder: file name -> sha256 of what an export wrote there."""

    def __init__(self, folder: Path, files: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.files = dict(files or {})
        self.written: set[str] = set()  # recorded by this export

    @classmethod
    def load(cls, folder: Path) -> OwnedFiles:
        """The folder's ledger; empty when there is none or it cannot be read (then nothing
        counts as an export's, which is the safe side)."""
        try:
            data: Any = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
            files = data["files"] if data.get("schema") == _SCHEMA else {}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            files = {}
        if not isinstance(files, dict):
            files = {}
        return cls(folder, {k: v for k, v in files.items() if isinstance(v, str)})

    def may_replace(self, name: str) -> bool:
        """Whether ``name`` in the folder is free, or a file an export wrote and nobody changed."""
        path = self.folder / name
        if not os.path.lexists(path):
            return True
        if path.is_symlink() or not path.is_file() or name not in self.files:
            return False
        try:
            return file_sha256(path) == self.files[name]
        except OSError:
            return False

    def record(self, name: str, sha256: str) -> None:
        """``name`` is being written by this export, with this content."""
        self.files[name] = sha256
        self.written.add(name)

    def save(self, into: Path) -> None:
        """Write the ledger into ``into`` (the folder, or the stage that becomes it),
        atomically; earlier entries whose file has gone from the folder are dropped."""
        kept = {
            name: digest
            for name, digest in sorted(self.files.items())
            if name in self.written or (self.folder / name).is_file()
        }
        temp = into / f"{LEDGER}.part"
        with open(temp, "w", encoding="utf-8") as f:
            json.dump({"schema": _SCHEMA, "files": kept}, f, ensure_ascii=False, indent=0)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(temp, into / LEDGER)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
