"""Constants of the intake tests that run real worker processes (the ``keys`` fixture is in conftest.py)."""

TENANT = "acme"
MASTER = bytes(range(32))
