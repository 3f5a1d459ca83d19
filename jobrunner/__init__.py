"""jobrunner: transcribe folders of recordings through Cartesia's realtime turn-detecting STT."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
