"""``tiezheng tiles verify SOURCE --trust-root ROOT``: check a copy of the log's hash tiles, trusting none of it.

SOURCE is where the tiles are: the service's tile prefix (``https://host/v1/log/tlog/``), a static copy made by
``tiezheng tiles export`` behind any web server or CDN, or that copy's folder. The command

1. fetches SOURCE's ``checkpoint`` and verifies its signature with a log key of the trust root;
2. checks the right-edge tiles of that tree size against the checkpoint's root (``verifier.tiles.TiledTree``);
3. for each ``--leaf INDEX:HASH`` and each ``--bundle FILE`` (its event's leaf hash and index), checks that the
   leaf sits at that index; a bundle's own checkpoint must be signed by a trusted key and be a prefix of
   SOURCE's tree (so the log has not forked since the receipt was issued);
4. with ``--since FILE`` (a checkpoint seen before, e.g. the one ``--save`` wrote last time), checks that the
   old tree is a prefix of the new one; with ``--save FILE`` it writes SOURCE's checkpoint there once every check
   passed, so a monitor run from cron proves each step of the log's growth.

Exit 0 (every check passed), 1 (a check failed: bad signature, a tile that does not hash, a leaf or an older
tree that is not there) or 2 (unusable input or nothing shown either way: no trust root, a file or a tile that
cannot be read, SOURCE older than the evidence it is asked about). Only SOURCE is contacted, and only to
fetch tiles and the checkpoint. A bundle is not verified in full here: ``tiezheng verify`` does that.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from verifier.bundle import MAX_BUNDLE_BYTES, Bundle, verify_trusted_checkpoint
from verifier.checkpoint import Checkpoint
from verifier.cli import EXIT_VALID, _native_stderr_silenced, _print_failure, _printable, _read
from verifier.errors import CheckUnavailable, MalformedInput, UntrustedLog, VerifierError
from verifier.events import event_leaf_hash
from verifier.hashing import HASH_SIZE
from verifier.tiles import TILE_WIDTH, TiledTree
from verifier.trust import LogKey, TrustRoot

__all__ = ["MAX_CHECKPOINT_BYTES", "MAX_ITEMS", "source_fetcher", "tiles_verify_command"]

MAX_CHECKPOINT_BYTES = 64 * 1024
"""The largest checkpoint note read (the log's line plus witness cosignatures fit many times over)."""
MAX_ITEMS = 256
"""The most ``--leaf`` plus ``--bundle`` items one run checks."""
_TILES_PER_ITEM = 16  # a proof at 2^64 leaves touches at most 2 tiles per level of 8 (and the edge is shared)
_LEAF = re.compile(r"(\d{1,20}):([0-9a-fA-F]{64})")
_TIMEOUT = 30.0


def source_fetcher(source: str, *, timeout: float = _TIMEOUT) -> Callable[[str, int], bytes]:
    """A function ``fetch(path, limit)`` that reads ``path`` (relative to SOURCE) from a folder or an http(s) prefix.

    It reads at most ``limit`` bytes and raises ``CheckUnavailable`` naming the path when the object is missing,
    larger than ``limit``, or the transport fails. Raises ``MalformedInput`` for a SOURCE that is neither an
    http(s) URL nor an existing folder.
    """
    if re.match(r"(?i)https?://", source):
        prefix = source if source.endswith("/") else source + "/"
        return lambda path, limit: _get_url(prefix + path, limit, timeout)
    if "://" in source:
        raise MalformedInput(f"tiles source {source[:80]!r}: want an http(s) URL or a folder")
    folder = Path(source)
    if not folder.is_dir():
        raise MalformedInput(f"tiles source {source[:80]!r} is not a folder (and not an http(s) URL)")
    return lambda path, limit: _get_file(folder / path, limit)


def _get_url(url: str, limit: int, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "tiezheng-verify"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: source_fetcher checked
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise CheckUnavailable(f"GET {url}: HTTP {exc.code} {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise CheckUnavailable(f"GET {url}: {exc}") from exc
    if len(data) > limit:
        raise CheckUnavailable(f"GET {url}: larger than {limit:,} bytes")
    return data


def _get_file(path: Path, limit: int) -> bytes:
    """``_read``, but a tile or checkpoint the copy lacks proves nothing either way: ``CheckUnavailable``."""
    try:
        return _read(str(path), "tiles object", limit)
    except MalformedInput as exc:
        raise CheckUnavailable(exc.message) from exc


@dataclass
class _Outcome:
    """What one run showed: the trusted checkpoint of SOURCE and one line per check that passed."""

    checkpoint: Checkpoint
    signer: str
    checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` form of a valid run."""
        return {"valid": True, "origin": self.checkpoint.origin, "tree_size": self.checkpoint.tree_size,
                "root": self.checkpoint.root_hash.hex(), "log_key": self.signer, "checks": self.checks,
                "exit_code": EXIT_VALID}


def tiles_verify_command(source: str, *, trust_root: str | None, leaves: Sequence[str] = (),
                         bundles: Sequence[str] = (), since: str | None = None, save: str | None = None,
                         json_output: bool = False, verbose: bool = False) -> int:
    """Run the checks of the module docstring against SOURCE; print the outcome and return the exit code.

    ``leaves`` are ``INDEX:HASH`` (decimal index, 64 hex digits of the leaf hash), ``bundles`` paths of event
    bundles, ``since`` the path of a checkpoint seen before, ``save`` where to write SOURCE's checkpoint after a
    valid run (replaced atomically).
    """
    out = Console(highlight=False, soft_wrap=True)
    try:
        items = [_parse_leaf(text) for text in leaves]
        found = [Bundle.from_bytes(_read(path, "bundle", MAX_BUNDLE_BYTES)) for path in bundles]
        if len(items) + len(found) > MAX_ITEMS:
            raise MalformedInput(f"{len(items) + len(found)} leaves and bundles: at most {MAX_ITEMS} per run")
        before = _checkpoint_file(since) if since else None
        fetch = source_fetcher(source)
        with _native_stderr_silenced(enabled=not verbose):
            outcome = _verify(fetch, _trust(trust_root), items, found, before)
        if save:
            _save(Path(save), outcome.checkpoint.text)
            outcome.checks.append(f"saved the checkpoint to {save}")
    except VerifierError as exc:
        return _print_failure(out, exc, json_output=json_output, verbose=verbose)
    if json_output:
        print(json.dumps(outcome.to_dict(), indent=2, ensure_ascii=False))
    else:
        cp = outcome.checkpoint
        lines = [f"VALID: tiles of log {cp.origin} at tree size {cp.tree_size:,}, root {cp.root_hash.hex()}",
                 f"  checkpoint signed by log key {outcome.signer}", *(f"  {c}" for c in outcome.checks)]
        out.print(Text(_printable("\n".join(lines)), style="green"))
    return EXIT_VALID


def _verify(fetch: Callable[[str, int], bytes], root: TrustRoot, items: list[tuple[int, bytes]],
            found: list[Bundle], before: Checkpoint | None) -> _Outcome:
    """Steps 1–4 of the module docstring, in that order; raises the first failure."""
    checkpoint = _parse_checkpoint(fetch("checkpoint", MAX_CHECKPOINT_BYTES), "the source's checkpoint")
    trusted = root.log_keys(checkpoint.origin)
    signer = verify_trusted_checkpoint(checkpoint, trusted).fingerprint
    tiles = TiledTree(checkpoint.tree_size, checkpoint.root_hash, lambda path: fetch(path, TILE_WIDTH * HASH_SIZE),
                      max_tiles=_TILES_PER_ITEM * (2 + len(items) + 2 * len(found)))
    outcome = _Outcome(checkpoint, signer)
    tiles.verify_root()
    size = f"{checkpoint.tree_size:,}"
    outcome.checks.append(f"right-edge tiles hash to the checkpoint's root of tree size {size}")
    for index, leaf in items:
        if index >= checkpoint.tree_size:
            raise CheckUnavailable(f"leaf {index:,} is not in the source's tree of size {size} (yet): "
                                   "export the tiles again, or try later")
        tiles.verify_inclusion(index, leaf)
        outcome.checks.append(f"leaf {index:,} is {leaf.hex()}")
    for bundle in found:
        _check_bundle(bundle, tiles, checkpoint, trusted)
        outcome.checks.append(f"bundle event {bundle.event.fields.get('event_id', '?')} is leaf "
                              f"{bundle.leaf_index:,}, and its checkpoint of size {bundle.checkpoint.tree_size:,} "
                              "is a prefix of this tree")
    if before is not None:
        _check_older(before, tiles, checkpoint, root)
        outcome.checks.append(f"the tree of size {before.tree_size:,} from --since is a prefix of this tree")
    return outcome


def _check_bundle(bundle: Bundle, tiles: TiledTree, checkpoint: Checkpoint, trusted: tuple[LogKey, ...]) -> None:
    """The bundle's event at its index, and its (trusted) checkpoint a prefix of SOURCE's tree."""
    theirs = bundle.checkpoint
    if theirs.origin != checkpoint.origin:
        raise MalformedInput(f"the bundle is of log {theirs.origin!r}, the tiles of log {checkpoint.origin!r}")
    verify_trusted_checkpoint(theirs, trusted)
    if theirs.tree_size > checkpoint.tree_size:
        raise CheckUnavailable(f"the source's tree (size {checkpoint.tree_size:,}) is older than the bundle's "
                               f"checkpoint (size {theirs.tree_size:,}): export the tiles again, or try later")
    tiles.verify_inclusion(bundle.leaf_index, event_leaf_hash(bundle.event))
    tiles.verify_consistency(theirs.tree_size, theirs.root_hash)


def _check_older(before: Checkpoint, tiles: TiledTree, checkpoint: Checkpoint, root: TrustRoot) -> None:
    """``--since``: a trusted checkpoint of the same log, whose tree is a prefix of SOURCE's."""
    if before.origin != checkpoint.origin:
        raise MalformedInput(f"--since is a checkpoint of log {before.origin!r}, the tiles are of log "
                             f"{checkpoint.origin!r}")
    verify_trusted_checkpoint(before, root.log_keys(before.origin))
    if before.tree_size > checkpoint.tree_size:
        raise CheckUnavailable(f"the source serves an older checkpoint (size {checkpoint.tree_size:,}) than the one "
                               f"from --since (size {before.tree_size:,}): a stale or a rolled-back copy; nothing "
                               "was proven. try again later, and tell the log's operator if it persists")
    tiles.verify_consistency(before.tree_size, before.root_hash)


def _parse_leaf(text: str) -> tuple[int, bytes]:
    match = _LEAF.fullmatch(text.strip())
    if match is None:
        raise MalformedInput(f"--leaf {text[:90]!r}: want INDEX:HASH, a decimal leaf index and the leaf hash in "
                             "64 hex digits")
    return int(match[1]), bytes.fromhex(match[2])


def _parse_checkpoint(data: bytes, what: str) -> Checkpoint:
    try:
        return Checkpoint.from_text(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{what} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except MalformedInput as exc:
        raise MalformedInput(f"{what}: {exc.message}") from exc


def _checkpoint_file(path: str) -> Checkpoint:
    return _parse_checkpoint(_read(path, "checkpoint", MAX_CHECKPOINT_BYTES), f"checkpoint file {path}")


def _trust(path: str | None) -> TrustRoot:
    if path is None or not path.strip():
        raise UntrustedLog("no trust root given: the tiles' checkpoint is checked only against keys you pass in. "
                           "pass --trust-root FILE (or set TIEZHENG_TRUST_ROOT); make one with tiezheng "
                           "trust-root init --origin ORIGIN --log-key KEY.pem")
    return TrustRoot.from_file(path)


def _save(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder: a crash leaves the old or the new."""
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise MalformedInput(f"cannot write the checkpoint to {path}: {exc.strerror or exc}") from exc
