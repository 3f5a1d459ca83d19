from __future__ import annotations

from jobrunner.cli import main

main()
