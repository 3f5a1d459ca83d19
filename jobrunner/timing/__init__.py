"""True turn times from the speech map: alignment, turn-detection latency, coverage (pure).

Modules: ``align`` (turns against one channel's speech), ``coverage`` (the verdict), ``speech``
(one job's stored turns against its map), ``latency`` (the percentiles every report shows; the
one name exported here, light to import).
"""

from __future__ import annotations

from jobrunner.timing.latency import Latencies

__all__ = ["Latencies"]
