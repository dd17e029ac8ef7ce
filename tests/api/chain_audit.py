"""The content audit of what goes on the regulator chain: every transaction to the registry and every event
it emitted (``Registry.audit_trail``) must carry only hashes, sizes, dates and counts, and each of them must
be accounted for: a checkpoint is the log's own tree (origin hash, a size the log has, the log's root at
that size), a digest record is a digest the service served (tenant hash, date, digest hash). A name, an id
or a coordinate smuggled into a bytes32 or a uint is reported with its path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ledger.sm import sm3

_CHECKPOINT = {"anchorCheckpoint", "CheckpointAnchored"}
_DIGEST = {"recordDigest", "DigestRecorded"}
_ARGS = {"originHash", "size", "root", "tenantHash", "date", "digest"}


def as_text(word: bytes) -> str | None:
    """``word`` as the text it holds, if it is printable UTF-8 padded with zero bytes (never a hash's shape)."""
    body = word.rstrip(b"\0")
    if len(body) < 2 or len(body) == len(word):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def audit_chain(trail: list[dict[str, Any]], *, origin: str, tree_size: int, root_at: Callable[[int], bytes],
                digests: dict[tuple[str, str], str]) -> list[str]:
    """Every value of ``trail`` that is not a hash, size, date or count accounted for by the log ``origin``
    (``tree_size`` leaves, ``root_at(size)``) or by ``digests`` ((tenant hash, date) → digest hash, hex)."""
    bad: list[str] = []
    for n, entry in enumerate(trail):
        name = entry.get("function") or entry.get("event")
        where = f"trail[{n}] ({name} in block {entry['block']})"
        if name not in _CHECKPOINT | _DIGEST:
            bad.append(f"{where}: not a registry write")
            continue
        args = entry["args"]
        bad += [f"{where}.{k}: unexpected argument" for k in args if k not in _ARGS]
        bad += [f"{where}.{k}: {v!r} is text ({text!r}), not a hash" for k, v in args.items()
                if isinstance(v, str) and (text := as_text(bytes.fromhex(v[2:]))) is not None]
        check = _checkpoint if name in _CHECKPOINT else _digest
        bad += [f"{where}: {problem}" for problem in check(args, origin, tree_size, root_at, digests)]
    return bad


def _checkpoint(args: dict[str, Any], origin: str, tree_size: int, root_at: Callable[[int], bytes],
                _: dict[tuple[str, str], str]) -> list[str]:
    if args.get("originHash") != "0x" + sm3(origin.encode()).hex():
        return [f"originHash {args.get('originHash')} is not this log's"]
    size = args.get("size")
    if type(size) is not int or not 0 < size <= tree_size:
        return [f"size {size!r} is not a size of this log (1 .. {tree_size})"]
    if args.get("root") != "0x" + root_at(size).hex():
        return [f"root {args.get('root')} is not the log's root at size {size}"]
    return []


def _digest(args: dict[str, Any], origin: str, tree_size: int, root_at: Callable[[int], bytes],
            digests: dict[tuple[str, str], str]) -> list[str]:
    number = args.get("date")
    try:
        day = date(number // 10000, number // 100 % 100, number % 100).isoformat()  # type: ignore[operator]
    except (TypeError, ValueError):
        return [f"date {number!r} is not a YYYYMMDD date"]
    tenant, digest = str(args.get("tenantHash", ""))[2:], str(args.get("digest", ""))[2:]
    served = digests.get((tenant, day))
    if served is None:
        return [f"tenantHash 0x{tenant} on {day}: no digest of that tenant and day was served"]
    if digest != served:
        return [f"digest 0x{digest} is not the digest served for {day} ({served})"]
    return []
