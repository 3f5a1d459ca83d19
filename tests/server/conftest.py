"""Fixtures of the local server tests: ``serve`` is in ``tests/conftest.py``; helpers live in
``srvkit``."""
