"""Alembic migrations of the jobrunner database, installed as ``jobrunner.migrations``.

Run them with ``jobrunner db upgrade`` (the store also applies them on first use). There is no
``alembic.ini``: ``jobrunner.store.migrate`` builds the configuration and hands ``env.py`` an open
connection inside a write transaction.
"""
