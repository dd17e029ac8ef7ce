"""Fixtures for the verifier tests; puts this folder on ``sys.path`` so ``verifier_testkit`` imports
under any pytest import mode (the folder is not a package, to keep ``verifier`` unshadowed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from verifier_testkit import KeyPair


@pytest.fixture(scope="session")
def log_key() -> KeyPair:
    """The log operator's key pair."""
    return KeyPair.generate()


@pytest.fixture(scope="session")
def actor_key() -> KeyPair:
    """A field device's key pair."""
    return KeyPair.generate()


@pytest.fixture(scope="session")
def other_key() -> KeyPair:
    """An unrelated key pair (an attacker's, or a wrong pin)."""
    return KeyPair.generate()
