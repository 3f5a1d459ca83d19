"""True turn times from the speech map: alignment, turn-detection latency, coverage (pure)."""
