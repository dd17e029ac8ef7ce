"""``tiezheng digest verify FILE --trust-root ROOT [--previous FILE]``: check one regulator digest offline;
``tiezheng risk verify FILE --trust-root ROOT``: check one insurer risk record offline.

Exit 0 (valid), 1 (a check failed, with the reason) or 2 (unusable input, no trust root, or a trust root
that does not name the digest's log). Thin by design: read the files, call ``DigestFile.from_bytes`` and
``verify_digest``, print the report (text or ``--json``) and map ``VerifierError`` to an exit code.
"""

from __future__ import annotations

import json
import shlex

from rich.console import Console
from rich.text import Text

from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, _native_stderr_silenced, _printable, _read
from verifier.digest import MAX_DIGEST_BYTES, DigestFile, verify_digest
from verifier.errors import CheckUnavailable, MalformedInput, UntrustedLog, VerifierError
from verifier.risk import MAX_RECORD_BYTES, verify_risk_record
from verifier.trust import TrustRoot

__all__ = ["digest_verify_command", "risk_verify_command"]


def digest_verify_command(path: str, *, trust_root: str | None, previous: str | None, json_output: bool,
                          verbose: bool, evm: str | None = None, fabric: str | None = None,
                          fabric_profile: str | None = None) -> int:
    """Verify the digest file at ``path`` against the trust root file ``trust_root``; ``previous`` is the
    previous day's digest file (optional). With ``evm`` (a JSON-RPC URL) or ``fabric`` (a peer's host:port,
    with the client profile ``fabric_profile``) a valid digest's chain receipts are also confirmed on those
    nodes (``verifier.digest_online``). Prints the report or the reason; returns the exit code."""
    out = Console(highlight=False, soft_wrap=True)
    try:
        digest = DigestFile.from_bytes(_read(path, "digest", MAX_DIGEST_BYTES))
        before = DigestFile.from_bytes(_read(previous, "previous digest", MAX_DIGEST_BYTES)) if previous else None
        if trust_root is None or not trust_root.strip():
            raise UntrustedLog("no trust root given: pass --trust-root FILE (or set TIEZHENG_TRUST_ROOT); make one "
                               f"with tiezheng trust-root init --origin {shlex.quote(digest.origin)} --log-key KEY.pem")
        root = TrustRoot.from_file(trust_root)
        with _native_stderr_silenced(enabled=not verbose):
            report = verify_digest(digest, trust_root=root, previous=before)
            if evm or fabric:  # grpc and the network clients load only when asked
                from verifier.digest_online import confirm_online

                report = confirm_online(digest, report, evm=evm, fabric=fabric, fabric_profile=fabric_profile)
    except VerifierError as exc:
        return _failure(out, exc, json_output=json_output, verbose=verbose)
    if json_output:
        print(report.to_json())
    else:
        out.print(Text(_printable(report.to_text()), style="green"))
    return EXIT_VALID


def risk_verify_command(path: str, *, trust_root: str | None, json_output: bool, verbose: bool) -> int:
    """Verify the risk record file at ``path`` (``tiezheng risk verify``); prints the report or the reason and
    returns 0 (valid), 1 (a check failed) or 2 (unusable input or trust root)."""
    out = Console(highlight=False, soft_wrap=True)
    try:
        data = _read(path, "risk record", MAX_RECORD_BYTES)
        if trust_root is None or not trust_root.strip():
            raise UntrustedLog("no trust root given: pass --trust-root FILE (or set TIEZHENG_TRUST_ROOT)")
        root = TrustRoot.from_file(trust_root)
        with _native_stderr_silenced(enabled=not verbose):
            report = verify_risk_record(data, trust_root=root)
    except VerifierError as exc:
        return _failure(out, exc, json_output=json_output, verbose=verbose)
    if json_output:
        print(report.to_json())
    else:
        out.print(Text(_printable(f"VALID: risk record {report.period} of log {report.origin}: "
                                  f"{report.events_proven} counted events proven in tree size {report.tree_size}, "
                                  f"figures recounted\nnote: {report.note}"), style="green"))
    return EXIT_VALID


def _failure(out: Console, exc: VerifierError, *, json_output: bool, verbose: bool) -> int:
    code = EXIT_UNUSABLE if isinstance(exc, MalformedInput | CheckUnavailable) else EXIT_INVALID
    if verbose:
        Console(stderr=True).print_exception()
    if json_output:
        print(json.dumps({"valid": False, "failure": exc.diagnostics(), "error": type(exc).__name__,
                          "exit_code": code}, indent=2, ensure_ascii=False))
    else:
        label = "UNUSABLE INPUT" if code == EXIT_UNUSABLE else "INVALID"
        out.print(Text(_printable(f"{label}: {exc.diagnostics()}"), style="red"))
    return code
