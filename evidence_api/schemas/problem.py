"""The RFC 9457 problem-details body that every error of the API answers, as ``application/problem+json``."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["FieldError", "ProblemDetails"]


class FieldError(BaseModel):
    """One field of a malformed request and what is wrong with it."""

    field: str = Field(examples=["body.events.0.salt"], description="the field's path, dot-separated")
    message: str = Field(examples=["String should match pattern '^[0-9a-f]{32}$'"])


class ProblemDetails(BaseModel):
    """An error (RFC 9457): ``type`` names the kind, ``detail`` says what was wrong and what to do."""

    type: str = Field(examples=["https://tiezheng.dev/problems/malformed-input"],
                      description="a URI naming the kind of problem; stable, for programs to branch on")
    title: str = Field(examples=["The request is not well-formed"], description="the kind, for humans")
    status: int = Field(ge=400, le=599, examples=[422], description="the HTTP status code")
    detail: str = Field(description="this occurrence: what was wrong and how to fix it")
    rule: str | None = Field(None, examples=["certificate.expired"],
                             description="the safety rule that refused the action (rule-violation only)")
    errors: list[FieldError] | None = Field(None, description="each malformed field (malformed-input from the "
                                                             "request's shape only)")
