"""Tests for verifier/errors.py: the exception tree and its diagnostics."""

from __future__ import annotations

import pytest

from verifier.errors import (
    AnchorMismatch,
    AttestationMismatch,
    BadSignature,
    CommitmentMismatch,
    InvalidProof,
    KeyMismatch,
    MalformedInput,
    RootMismatch,
    VerificationFailed,
    VerifierError,
)


@pytest.mark.parametrize(
    "error",
    [InvalidProof, BadSignature, KeyMismatch, CommitmentMismatch, AttestationMismatch, AnchorMismatch],
)
def test_failure_kinds_are_verification_failed(error: type[VerifierError]) -> None:
    assert issubclass(error, VerificationFailed)
    assert not issubclass(error, MalformedInput)


def test_malformed_input_is_not_verification_failed() -> None:
    assert issubclass(MalformedInput, VerifierError)
    assert not issubclass(MalformedInput, VerificationFailed)


def test_root_mismatch_message_names_both_roots() -> None:
    error = RootMismatch(expected=b"\x01" * 32, calculated=b"\x02" * 32)
    assert str(error) == f"root mismatch: calculated {'02' * 32}, want {'01' * 32}"
    assert issubclass(RootMismatch, VerificationFailed)


def test_root_mismatch_names_what_was_compared() -> None:
    with pytest.raises(RootMismatch, match="^first root mismatch"):
        raise RootMismatch(expected=b"\x01", calculated=b"\x02", what="first root")


def test_diagnostics_without_step() -> None:
    assert BadSignature("sm2 signature does not verify").diagnostics() == "sm2 signature does not verify"


def test_diagnostics_with_step() -> None:
    error = BadSignature("sm2 signature does not verify")
    error.step, error.step_name = 3, "checkpoint signature"
    assert error.diagnostics() == "step 3 (checkpoint signature) failed: sm2 signature does not verify"
