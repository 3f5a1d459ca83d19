"""Which event loop ``jobrunner run`` runs on: the ``loop`` setting (``--loop``).

``auto`` takes uvloop (libuv under asyncio's API; ``pip install 'jobrunner[fast]'``) when it
is installed, else asyncio's own loop. uvloop costs the client 5-12 % less CPU per audio second
at 200 and 1,000 sessions (``bench/loops.py``) and changes nothing else: the same anyio code
runs on either, so ``auto`` needs no opt-in.
"""

from __future__ import annotations

import importlib
from typing import Any

from jobrunner.errors import ConfigError


def uvloop_installed() -> bool:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return False
    return True


def backend_options(loop: str) -> dict[str, Any]:
    """anyio's asyncio backend options for the ``loop`` setting; :class:`ConfigError` when
    uvloop is asked for by name and is not installed."""
    if loop == "uvloop" and not uvloop_installed():
        raise ConfigError("--loop uvloop: uvloop is not installed (pip install 'jobrunner[fast]')")
    return {"use_uvloop": loop == "uvloop" or (loop == "auto" and uvloop_installed())}
