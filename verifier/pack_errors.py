"""Pack refusals with their reason class (docs/formats.md, "Evidence pack v1", "Verification order").

Every refusal names one reason class of the table, the file it concerns (or none) and a detail for a human.
The class decides the exit code: ``PackUnusable`` (a ``MalformedInput``, exit 2) or ``PackInvalid`` (a
``VerificationFailed``, exit 1). ``verify.html`` reports the same classes, so both verifiers can be compared.
"""

from __future__ import annotations

from typing import NoReturn

from verifier.errors import MalformedInput, VerificationFailed, VerifierError

__all__ = ["REASON_CLASSES", "UNUSABLE_REASONS", "PackInvalid", "PackUnusable", "exit_code_of", "refuse"]

UNUSABLE_REASONS = frozenset({"unreadable", "zip", "manifest", "untrusted-log", "malformed"})
"""Reason classes that mean "unusable input" (exit 2); every other class is exit 1."""

REASON_CLASSES = (
    "unreadable", "zip", "file-hash", "manifest", "untrusted-log", "manifest-signature", "missing-file",
    "extra-file", "malformed", "checkpoint-signature", "inclusion-proof", "event-signature",
    "payload-commitment", "scope", "chain-gap", "media-hash", "media-deletion", "consistency-proof",
)
"""The fixed reason classes in verification order; ``anchor-<kind>`` follows them, one per receipt kind."""


class _Reasoned:
    reason: str
    path: str | None

    def describe(self) -> dict[str, str | None]:
        """``{"reason", "path", "detail"}`` as the JSON report and ``verify.html`` show them."""
        assert isinstance(self, VerifierError)
        return {"reason": self.reason, "path": self.path, "detail": self.message}


class PackUnusable(MalformedInput, _Reasoned):
    """The pack cannot be used (exit 2): ``reason`` is one of ``UNUSABLE_REASONS``."""

    def __init__(self, reason: str, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.path = reason, path


class PackInvalid(VerificationFailed, _Reasoned):
    """A check of the pack failed (exit 1): ``reason`` names which (``file-hash``, ``anchor-local``, ...)."""

    def __init__(self, reason: str, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.path = reason, path


def refuse(reason: str, message: str, *, path: str | None = None) -> NoReturn:
    """Raise the refusal of class ``reason`` (``PackUnusable`` or ``PackInvalid`` by the table)."""
    if reason in UNUSABLE_REASONS:
        raise PackUnusable(reason, message, path=path)
    raise PackInvalid(reason, message, path=path)


def exit_code_of(reason: str) -> int:
    """The exit code of a reason class: 2 for unusable input, else 1."""
    return 2 if reason in UNUSABLE_REASONS else 1
