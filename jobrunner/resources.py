"""Where the data folders that ship with jobrunner are, installed or in a checkout.

``configs/`` and ``migrations/`` sit at the top of the repository and are installed as the
packages ``jobrunner.configs`` / ``jobrunner.migrations``. When jobrunner is imported straight
from a checkout (``python -m jobrunner`` in the repo, pytest), those packages do not exist and
the top-level folders are used instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_dir(name: str) -> Path:
    """The folder of ``jobrunner.<name>`` when installed, else ``<repo>/<name>``."""
    spec = importlib.util.find_spec(f"jobrunner.{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"jobrunner data folder {name!r} is missing from this installation")
