"""``tiezheng verify FILE --trust-root ROOT`` and ``tiezheng trust-root init``: the verifier's commands.

``verify`` checks one bundle (JSON) or evidence pack (zip, told apart by its first bytes) offline and exits 0 (valid), 1 (invalid) or 2 (unusable input, no trust root,
or a trust root that does not name the bundle's log). Thin by design (STYLE.md item 3): read the files,
call ``TrustRoot.from_file``, ``Bundle.from_bytes`` and ``verify_bundle``, print the report and map
``VerifierError`` to an exit code. The ``tiezheng`` dispatcher in ``evidence_api/cli.py`` imports this
module lazily and calls ``verify_command`` or ``trust_root_init_command``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from verifier.bundle import MAX_BUNDLE_BYTES, Bundle, verify_bundle
from verifier.errors import CheckUnavailable, MalformedInput, UntrustedLog, VerifierError
from verifier.fabric import FabricReceipt
from verifier.fabric_live import compare_with_peer
from verifier.fabric_profile import fabric_section
from verifier.pack import MAX_PACK_BYTES, is_pack, verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable
from verifier.report import Report, StepResult
from verifier.trust import TrustRoot

__all__ = ["EXIT_INVALID", "EXIT_UNUSABLE", "EXIT_VALID", "trust_root_init_command", "verify_command"]

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def verify_command(path: str, *, trust_root: str | None, json_output: bool, verbose: bool,
                   evm: str | None = None, fabric: str | None = None, fabric_profile: str | None = None) -> int:
    """Verify the bundle or evidence pack at ``path`` against the trust root file ``trust_root``; print the outcome.

    A pack (a zip) is told from a bundle (JSON) by its first bytes; a pack's refusal names its reason class
    (docs/formats.md, "Verification order"), also in ``--json`` as ``reason``, ``path`` and ``detail``.

    ``trust_root`` is the path given with ``--trust-root`` (or ``TIEZHENG_TRUST_ROOT``); without one the
    verifier says what to pass and returns 2, never falling back to keys inside the bundle.
    ``evm`` is a JSON-RPC URL of a regulator-chain node (``--evm``): each EVM anchor's block and receipt
    are then confirmed on that chain too (the only network access, and only when asked).
    ``json_output`` prints the report as JSON instead of text; ``verbose`` lists every step and, on
    failure, prints the error's traceback to stderr. Returns ``EXIT_VALID`` (0), ``EXIT_INVALID`` (1) or
    ``EXIT_UNUSABLE`` (2: unreadable file, not JSON, wrong format, malformed or out-of-range field, no or
    unusable trust root, one that does not name the bundle's log, or an ``--evm`` node that cannot be asked). With ``fabric`` (a peer's host:port)
    and ``fabric_profile`` (a Fabric client profile naming it), a valid bundle's Fabric anchors are also
    compared with the block that live peer serves (an extra step; a difference exits 1).
    """
    out = Console(highlight=False, soft_wrap=True)
    try:
        data = _read(path, "bundle", MAX_PACK_BYTES)
    except MalformedInput as exc:
        return _print_failure(out, exc, json_output=json_output, verbose=verbose)
    if is_pack(data):
        return _verify_pack(out, data, trust_root=trust_root, json_output=json_output, verbose=verbose)
    try:
        if len(data) > MAX_BUNDLE_BYTES:
            raise MalformedInput(f"bundle {path} is larger than {MAX_BUNDLE_BYTES} bytes")
        bundle = Bundle.from_bytes(data)
        root = _trust_root(trust_root, bundle.checkpoint.origin)
        with _native_stderr_silenced(enabled=not verbose):
            report = verify_bundle(bundle, trust_root=root, evm_url=evm)
        if fabric:
            report = _ask_live_peer(bundle, report, fabric, fabric_profile)
    except VerifierError as exc:
        return _print_failure(out, exc, json_output=json_output, verbose=verbose)
    _print_report(out, report, json_output=json_output, verbose=verbose)
    return EXIT_VALID


def _verify_pack(out: Console, data: bytes, *, trust_root: str | None, json_output: bool, verbose: bool) -> int:
    """``verify`` for an evidence pack (a zip): the same exits, and the reason class of any refusal."""
    try:
        root = TrustRoot.from_file(trust_root) if trust_root is not None and trust_root.strip() else None
    except MalformedInput as exc:
        return _print_failure(out, PackUnusable("untrusted-log", exc.message), json_output=json_output,
                              verbose=verbose)
    try:
        with _native_stderr_silenced(enabled=not verbose):
            report = verify_pack(data, trust_root=root)
    except (PackInvalid, PackUnusable) as exc:
        return _print_failure(out, exc, json_output=json_output, verbose=verbose)
    if json_output:
        print(report.to_json())
    else:
        out.print(Text(_printable(report.to_text()), style="green"))
    return EXIT_VALID


def _ask_live_peer(bundle: Bundle, report: Report, address: str, profile: str | None) -> Report:
    """The report with one more step: each Fabric anchor's block compared with the live peer's."""
    receipts = [a for a in bundle.anchors if isinstance(a, FabricReceipt)]
    if not receipts:
        raise MalformedInput("--fabric was given but the bundle carries no fabric anchor")
    if not profile:
        raise MalformedInput("--fabric needs --fabric-profile (or TIEZHENG_FABRIC_PROFILE): the client profile "
                             "that names the peer's tls root and an identity the peer serves blocks to")
    steps = list(report.steps)
    for receipt in receipts:
        try:
            steps.append(StepResult(8, "live fabric peer", "ok", compare_with_peer(receipt, address=address,
                                                                                    profile=profile)))
        except VerifierError as exc:
            exc.step, exc.step_name = 8, "live fabric peer"
            exc.report = replace(report, valid=False, assurance=None, failure=exc.diagnostics(),
                                 steps=(*steps, StepResult(8, "live fabric peer", "failed", exc.message)))
            raise
    return replace(report, steps=tuple(steps))


def trust_root_init_command(
    *,
    origin: str,
    log_key: str,
    out: str,
    force: bool,
    fabric_network: str | None = None,
    tsa_roots: Sequence[str] = (),
    witnesses: Sequence[str] = (),
    witness_quorum: int | None = None,
) -> int:
    """Write a trust root naming one log key, for ``tiezheng trust-root init``; return the exit code.

    ``origin`` is the log's name in its checkpoints, ``log_key`` the path of its public key (PEM) obtained
    out of band, ``out`` the file to write (refused if it exists, unless ``force``); ``fabric_network``, a
    Fabric client profile (network.json) whose orgs' CA certificates go in the ``fabric`` section;
    ``tsa_roots`` are ``NAME=FILE`` (a PEM file of the TSA's root certificates), ``witnesses`` ``NAME=FILE``
    (a witness's Ed25519 public key, PEM); ``witness_quorum`` how many must cosign (default: all named).
    Returns 0, or 2 with a message when an input is unusable or the file cannot be written.
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        pem = _read(log_key, "log key", 1024 * 1024).decode("utf-8", errors="replace")
        fabric = fabric_section(fabric_network) if fabric_network else None
        tsas = [(name, _certificates(path)) for name, path in map(_named, tsa_roots)]
        keys = [(name, _read(path, "witness key", 64 * 1024).decode("utf-8", errors="replace"))
                for name, path in map(_named, witnesses)]
        quorum = len(keys) if witness_quorum is None else witness_quorum
        root = TrustRoot.for_log(origin, pem, fabric=fabric, timestamp_authorities=tsas, witnesses=keys, quorum=quorum)
        _write_new(Path(out), root.to_json(), force=force)
    except VerifierError as exc:
        console.print(Text(_printable(f"UNUSABLE INPUT: {exc.diagnostics()}"), style="red"))
        return EXIT_UNUSABLE
    key = root.logs[0]
    console.print(Text(_printable(f"wrote {out}: log {key.origin!r} with key {key.fingerprint}")))
    if root.fabric is not None:
        orgs = ", ".join(o.msp_id for o in root.fabric.orgs)
        console.print(Text(_printable(f"fabric channel {root.fabric.channel!r}, chaincode {root.fabric.chaincode!r}, "
                                      f"orgs {orgs} (endorsers: {', '.join(root.fabric.endorsers)})")))
    for tsa in root.timestamp_authorities:
        console.print(Text(_printable(f"  tsa {tsa.name!r}: {len(tsa.certificates)} root certificate(s)")))
    if root.witnesses.keys:
        names = ", ".join(w.name for w in root.witnesses.keys)
        console.print(Text(_printable(f"  witnesses {names}; quorum {root.witnesses.quorum}")))
    console.print("compare that fingerprint with the one the log's operator publishes before you rely on it.")
    return EXIT_VALID


def _trust_root(path: str | None, origin: str) -> TrustRoot:
    if path is None or not path.strip():
        raise UntrustedLog(
            f"no trust root given: the verifier trusts only keys you pass in, never the keys inside the bundle. "
            f"pass --trust-root FILE (or set TIEZHENG_TRUST_ROOT). to make one from the public key of log "
            f"{origin!r}, obtained from its operator out of band: tiezheng trust-root init --origin {shlex.quote(origin)} "
            "--log-key KEY.pem -o trust-root.json"
        )
    return TrustRoot.from_file(path)


def _named(value: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise MalformedInput(f"want NAME=FILE, got {value[:80]!r}")
    return name, path


def _certificates(path: str) -> list[str]:
    text = _read(path, "tsa root", 1024 * 1024).decode("utf-8", errors="replace")
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.DOTALL)
    if not blocks:
        raise MalformedInput(f"tsa root file {path} holds no PEM certificate")
    return [block + "\n" for block in blocks]


def _read(path: str, what: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise MalformedInput(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise MalformedInput(f"{what} {path} is larger than {limit} bytes")
    return data


def _write_new(path: Path, text: str, *, force: bool) -> None:
    try:
        with open(path, "w" if force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError as exc:
        raise MalformedInput(f"{path} exists; pass --force to overwrite it") from exc
    except OSError as exc:
        raise MalformedInput(f"cannot write {path}: {exc.strerror or exc}") from exc


def _printable(text: str) -> str:
    """Escape control and bidi characters, so evidence text cannot rewrite the terminal it is shown on."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _print_report(out: Console, report: Report, *, json_output: bool, verbose: bool) -> None:
    if json_output:
        print(report.to_json())
        return
    out.print(Text(_printable(report.to_text(steps=verbose)), style="green" if report.valid else "red"))


def _print_failure(out: Console, exc: VerifierError, *, json_output: bool, verbose: bool) -> int:
    code = EXIT_UNUSABLE if isinstance(exc, MalformedInput | CheckUnavailable) else EXIT_INVALID
    if verbose:
        Console(stderr=True).print_exception()
    if json_output:
        body = (
            exc.report.to_dict() if exc.report is not None else {"valid": False, "failure": exc.diagnostics()}
        )
        if isinstance(exc, PackInvalid | PackUnusable):
            body = {"valid": False, **exc.describe()}
        print(
            json.dumps({**body, "error": type(exc).__name__, "exit_code": code}, indent=2, ensure_ascii=False)
        )
    else:
        label = "UNUSABLE INPUT" if code == EXIT_UNUSABLE else "INVALID"
        reason = f" [{exc.reason}]" if isinstance(exc, PackInvalid | PackUnusable) else ""
        out.print(Text(_printable(f"{label}{reason}: {exc.diagnostics()}"), style="red"))
        if verbose and exc.report is not None:
            out.print(Text(_printable(exc.report.to_text(steps=True))))
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
