"""Exceptions raised by the offline verifier (docs/formats.md: "the verifier reports the first that fails").

Two families, mapped to the exit codes of ``tiezheng verify``:

- ``MalformedInput`` (exit 2): the input cannot be used at all (not JSON, wrong format tag, a field of the
  wrong type or out of range, a key that is not an SM2 public key, a checkpoint that is not a C2SP note);
  its subclass ``UntrustedLog`` says that no trust root was given or that it names no key for the log.
- ``VerificationFailed`` (exit 1): the input is well formed but a check failed; subclasses say which kind.

Messages are lower-case and name the values they compared (got/want), as transparency-dev/merkle does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verifier.report import Report

__all__ = [
    "AnchorMismatch",
    "AttestationMismatch",
    "BadSignature",
    "ChainMismatch",
    "CheckUnavailable",
    "CommitmentMismatch",
    "CosignatureInvalid",
    "InvalidProof",
    "KeyMismatch",
    "MalformedInput",
    "RootMismatch",
    "TimestampInvalid",
    "UntrustedLog",
    "VerificationFailed",
    "VerifierError",
]


class VerifierError(Exception):
    """Base of every verifier error.

    ``step`` and ``step_name`` are filled in by ``Bundle.from_bytes`` and ``verify_bundle`` with the
    numbered step of docs/formats.md that raised the error, and ``report`` by ``verify_bundle`` with the
    steps that ran; all stay ``None`` for errors raised outside a bundle check.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.step: int | None = None
        self.step_name: str | None = None
        self.report: Report | None = None

    def diagnostics(self) -> str:
        """One line for a human: the failing step (when known) and the reason."""
        if self.step is None:
            return self.message
        return f"step {self.step} ({self.step_name}) failed: {self.message}"


class CheckUnavailable(VerifierError):
    """A check the caller asked for could not run: e.g. ``--evm URL`` names a node that does not answer
    (exit 2: nothing was shown either way)."""


class MalformedInput(VerifierError):
    """The input is unusable: it cannot be parsed or lacks what the format requires (exit 2)."""


class UntrustedLog(MalformedInput):
    """Nothing to check against: no trust root was given, or it names no key for the evidence's log (exit 2).

    The verifier never falls back to a key inside the evidence; the message says what to pass instead.
    """


class VerificationFailed(VerifierError):
    """The input is well formed but one of the checks failed (exit 1)."""


class InvalidProof(VerificationFailed):
    """A Merkle proof does not fit its tree sizes (wrong length, index beyond size, bad hash size)."""


class RootMismatch(VerificationFailed):
    """A root computed from a proof differs from the root it was checked against."""

    def __init__(self, expected: bytes, calculated: bytes, *, what: str = "root") -> None:
        super().__init__(f"{what} mismatch: calculated {calculated.hex()}, want {expected.hex()}")
        self.expected = expected
        self.calculated = calculated


class BadSignature(VerificationFailed):
    """An SM2 signature does not verify under the key it was checked with."""


class KeyMismatch(VerificationFailed):
    """A signature or record names a different key than the one it is checked against."""


class CommitmentMismatch(VerificationFailed):
    """The disclosed payload and salt do not hash to the event's ``payload_commitment``."""


class AttestationMismatch(VerificationFailed):
    """A batch attestation does not cover the event (hash, claim membership or actor differ)."""


class AnchorMismatch(VerificationFailed):
    """An anchor record does not match its own checkpoint, the bundle checkpoint or the journal chain."""


class ChainMismatch(VerificationFailed):
    """An EVM receipt does not hold together: its block header, receipts, log or registry differ from what
    it claims or from the trust root (or, with ``--evm``, from the chain)."""
class TimestampInvalid(VerificationFailed):
    """An RFC 3161 token does not cover the checkpoint, or its signature or certificate chain fails."""


class CosignatureInvalid(VerificationFailed):
    """A witness cosignature does not verify, or it is for another checkpoint."""
