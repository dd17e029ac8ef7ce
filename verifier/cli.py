"""``tiezheng verify FILE``: check one bundle offline and exit 0 (valid), 1 (invalid) or 2 (unusable input).

Thin by design (STYLE.md item 3): read the files, call ``Bundle.from_bytes`` and ``verify_bundle``, print
the report and map ``VerifierError`` to an exit code. The ``tiezheng`` dispatcher in
``evidence_api/cli.py`` imports this module lazily and calls ``verify_command``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from verifier.bundle import Bundle, verify_bundle
from verifier.errors import MalformedInput, VerifierError
from verifier.report import Report

__all__ = ["EXIT_INVALID", "EXIT_UNUSABLE", "EXIT_VALID", "verify_command"]

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


def verify_command(path: str, *, json_output: bool, log_key: str | None, verbose: bool) -> int:
    """Verify the bundle at ``path`` and print the outcome; return the exit code.

    ``json_output`` prints the report as JSON instead of text; ``log_key`` is the path of the trusted log
    key PEM (``--log-key``; without it the bundle's own key is used and reported as not pinned);
    ``verbose`` lists every step and, on failure, prints the error's traceback to stderr.
    Returns ``EXIT_VALID`` (0), ``EXIT_INVALID`` (1) or ``EXIT_UNUSABLE`` (2: unreadable file, not JSON,
    wrong format, malformed field or key).
    """
    out = Console(highlight=False, soft_wrap=True)
    try:
        pinned = _read(log_key, "log key").decode("utf-8", errors="replace") if log_key is not None else None
        bundle = Bundle.from_bytes(_read(path, "bundle"))
        with _native_stderr_silenced(enabled=not verbose):
            report = verify_bundle(bundle, log_key_pem=pinned)
    except VerifierError as exc:
        return _print_failure(out, exc, json_output=json_output, verbose=verbose)
    _print_report(out, report, json_output=json_output, verbose=verbose)
    return EXIT_VALID


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise MalformedInput(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def _print_report(out: Console, report: Report, *, json_output: bool, verbose: bool) -> None:
    if json_output:
        print(report.to_json())
        return
    out.print(Text(report.to_text(steps=verbose), style="green" if report.valid else "red"))


def _print_failure(out: Console, exc: VerifierError, *, json_output: bool, verbose: bool) -> int:
    code = EXIT_UNUSABLE if isinstance(exc, MalformedInput) else EXIT_INVALID
    if verbose:
        Console(stderr=True).print_exception()
    if json_output:
        body = (
            exc.report.to_dict() if exc.report is not None else {"valid": False, "failure": exc.diagnostics()}
        )
        print(
            json.dumps({**body, "error": type(exc).__name__, "exit_code": code}, indent=2, ensure_ascii=False)
        )
    else:
        label = "UNUSABLE INPUT" if code == EXIT_UNUSABLE else "INVALID"
        out.print(Text(f"{label}: {exc.diagnostics()}", style="red"))
        if verbose and exc.report is not None:
            out.print(Text(exc.report.to_text(steps=True)))
    return code


@contextmanager
def _native_stderr_silenced(*, enabled: bool) -> Iterator[None]:
    """Silence file descriptor 2 while verifying: GmSSL prints C-level traces there for every signature
    that does not verify, which the report already explains. ``--verbose`` keeps them."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
