"""Helper process: wait for a line on stdin, open the store migrating it (as SQLite's first use
and `jobrunner db upgrade` do), print the revision."""

from __future__ import annotations

import sys

from jobrunner.store import Store

sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()
with Store.open(sys.argv[1], migrate_schema=True) as store:
    store.enqueue_many([])
    sys.stdout.write(f"{store.revision()}\n")
