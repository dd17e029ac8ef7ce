"""Service-level failures that are not the ledger's: auth, lookups, conflicts, limits."""

from __future__ import annotations

__all__ = ["Conflict", "Forbidden", "Gone", "InvalidTransition", "NotFound", "PreconditionFailed", "RangeNotSatisfiable",
           "RuleViolation", "ServiceError", "TooLarge", "Unauthorized", "UnsupportedMediaType"]


class ServiceError(Exception):
    """Base of the service's own errors."""


class Unauthorized(ServiceError):
    """No bearer token, or one that is not known."""


class Forbidden(ServiceError):
    """The token is known but may not do this (role or tenant)."""


class NotFound(ServiceError):
    """The thing asked for does not exist (for this tenant)."""


class Conflict(ServiceError):
    """The request conflicts with what is stored."""


class TooLarge(ServiceError):
    """A request beyond a configured limit (batch size, body size)."""


class UnsupportedMediaType(ServiceError):
    """A request body whose ``Content-Type`` the route does not take (e.g. JSON sent as text/plain)."""


class Gone(ServiceError):
    """The thing existed and was deleted on purpose (media past its retention); its record stays."""


class PreconditionFailed(ServiceError):
    """A protocol precondition does not hold (a tus request without ``Tus-Resumable: 1.0.0``)."""


class RangeNotSatisfiable(ServiceError):
    """A ``Range`` that does not fit the object (starts at or after its end, or cannot be parsed)."""


class InvalidTransition(ServiceError):
    """The permit's state machine does not allow this action in the permit's current state."""


class RuleViolation(ServiceError):
    """A safety rule refuses the action; ``rule`` names it (e.g. ``certificate.expired``)."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
