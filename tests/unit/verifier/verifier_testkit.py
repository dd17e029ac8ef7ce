"""Test helpers for the verifier: SM2 key pairs, a reference RFC 9162 tree and builders for signed objects.

Written from the RFCs and docs/formats.md, independently of ``verifier/`` (which they test) and of
``ledger/``. The reference tree is the recursive definition of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from typing import Any

import gmssl_pyx
import rfc8785
from asn1crypto import keys, pem
from cryptography.hazmat.primitives import hashes

SIGNER_ID = b"1234567812345678"
SM2_CURVE = "1.2.156.10197.1.301"
ORIGIN = "tiezheng.example/log"


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def spki_der(point: bytes, *, curve: str = SM2_CURVE, prefix: bytes = b"\x04") -> bytes:
    params = keys.ECDomainParameters(name="named", value=curve)
    info = keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": prefix + point}
    )
    der: bytes = info.dump()
    return der


def pem_of(der: bytes) -> str:
    armored: bytes = pem.armor("PUBLIC KEY", der)
    return armored.decode("ascii")


@dataclass(frozen=True)
class KeyPair:
    """An SM2 key pair made by GmSSL, with its PEM public key."""

    public: bytes
    private: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(public=public, private=private)

    @property
    def der(self) -> bytes:
        return spki_der(self.public)

    @property
    def pem(self) -> str:
        return pem_of(self.der)

    @property
    def fingerprint(self) -> str:
        return sm3(self.der).hex()

    def sign(self, message: bytes) -> bytes:
        signature: bytes = gmssl_pyx.sm2_sign(self.private, self.public, message, signer_id=SIGNER_ID)
        return signature


# Reference tree (RFC 9162 §2.1.1): MTH over a list of leaf hashes, split at the largest power of two < n.


def node(left: bytes, right: bytes) -> bytes:
    return sm3(b"\x01" + left + right)


def leaf(data: bytes) -> bytes:
    return sm3(b"\x00" + data)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sm3(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node(ref_root(leaves[:k]), ref_root(leaves[k:]))


def ref_inclusion(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return ref_inclusion(index, leaves[:k]) + [ref_root(leaves[k:])]
    return ref_inclusion(index - k, leaves[k:]) + [ref_root(leaves[:k])]


def ref_consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 (empty for m == 0 or m == n)."""
    if m == 0 or m == len(leaves):
        return []
    return _subproof(m, leaves, True)


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [ref_root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [ref_root(leaves[:k])]


def leaves_for(n: int, *, seed: str = "leaf") -> list[bytes]:
    return [leaf(f"{seed}-{i}".encode()) for i in range(n)]


def checkpoint_text(
    key: KeyPair, size: int, root: bytes, *, origin: str = ORIGIN, extra_lines: str = ""
) -> str:
    body = f"{origin}\n{size}\n{b64(root)}\n"
    key_hash = sm3(origin.encode() + b"\n" + key.der)[:4]
    signature = key.sign(body.encode())
    return f"{body}\n\u2014 {origin} {b64(key_hash + signature)}\n{extra_lines}"


# Events, attestations, journal entries and bundles as docs/formats.md writes them.

_NOT_IN_CLAIM = ("received_at", "prev", "attestation", "signature")


def claim_of(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _NOT_IN_CLAIM}


def commitment(salt: bytes, value: Any) -> str:
    return sm3(salt + canonical(value)).hex()


def make_event(
    actor: KeyPair, *, value: Any, salt: bytes, signed: bool = True, key_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "v": 1,
        "event_id": str(uuid.UUID(int=int.from_bytes(salt, "big"))),
        "tenant": "acme",
        "kind": "detector.reading",
        "subject": {"permit": "PTW-7"},
        "actor": {"type": "device", "id": "det-1", "key_id": actor.fingerprint if key_id is None else key_id},
        "occurred_at": "2025-03-01T08:00:00+08:00",
        "location": {"lat": 31.23, "lon": 121.47, "accuracy_m": 5},
        "payload_commitment": commitment(salt, value),
        **extra,
    }
    if signed:
        event["signature"] = b64(actor.sign(canonical(event)))
    event.update({"received_at": "2025-03-01T00:00:01Z", "prev": None})
    return event


def make_attestation(
    actor: KeyPair, claims: list[dict[str, Any]], *, who: dict[str, Any] | None = None, tenant: str = "acme"
) -> dict[str, Any]:
    att: dict[str, Any] = {
        "v": 1,
        "tenant": tenant,
        "actor": who if who is not None else claims[0]["actor"],
        "event_hashes": [sm3(canonical(c)).hex() for c in claims],
    }
    att["signature"] = b64(actor.sign(canonical(att)))
    return att


def sign_entry(log: KeyPair, entry: dict[str, Any]) -> dict[str, Any]:
    unsigned = {k: v for k, v in entry.items() if k != "signature"}
    return {**unsigned, "signature": b64(log.sign(canonical(unsigned)))}


def make_journal(log: KeyPair, leaves: list[bytes], sizes: list[int]) -> list[dict[str, Any]]:
    """A signed journal with one entry per tree size in ``sizes`` (ascending)."""
    entries: list[dict[str, Any]] = []
    for seq, size in enumerate(sizes):
        previous = entries[-1] if entries else None
        entry = {
            "v": 1,
            "seq": seq,
            "prev_entry": sm3(canonical(previous)).hex() if previous else None,
            "origin": ORIGIN,
            "tree_size": size,
            "root_hash": ref_root(leaves[:size]).hex(),
            "checkpoint": checkpoint_text(log, size, ref_root(leaves[:size])),
            "previous_tree_size": previous["tree_size"] if previous else None,
            "consistency_proof": [h.hex() for h in ref_consistency(previous["tree_size"], leaves[:size])]
            if previous
            else [],
            "anchored_at": f"2025-03-01T00:00:{seq:02d}Z",
            "key_id": log.fingerprint,
        }
        entries.append(sign_entry(log, entry))
    return entries


@dataclass
class BundleParts:
    """A valid bundle and the keys and tree it was made from, for tests to mutate."""

    bundle: dict[str, Any]
    log: KeyPair
    actor: KeyPair
    leaves: list[bytes]

    def with_changes(self, **changes: Any) -> dict[str, Any]:
        bundle = copy.deepcopy(self.bundle)
        bundle.update(changes)
        return bundle


def make_bundle(
    log: KeyPair,
    actor: KeyPair,
    *,
    batch: bool = False,
    index: int = 4,
    size: int = 7,
    anchor_sizes: tuple[int, ...] = (3, 11),
    key_id: str | None = None,
    attestation_tenant: str = "acme",
) -> BundleParts:
    """A bundle for the event at ``index`` of a tree of ``size``, anchored in a journal with ``anchor_sizes``.

    ``key_id`` replaces the actor's key id (default: the key's fingerprint); ``attestation_tenant`` the
    tenant a batch attestation names."""
    salt, value = bytes(range(16)), {"gas": "H2S", "ppm": 3.5}
    event = make_event(actor, value=value, salt=salt, signed=not batch, key_id=key_id)
    attestation = None
    if batch:
        other = claim_of(make_event(actor, value=1, salt=bytes(16), signed=False, key_id=key_id))
        attestation = make_attestation(actor, [other, claim_of(event)], tenant=attestation_tenant)
        event["attestation"] = sm3(canonical(attestation)).hex()
    leaves = leaves_for(max(size, *anchor_sizes))
    leaves[index] = leaf(canonical(event))
    journal = make_journal(log, leaves, list(anchor_sizes))
    anchors = [
        {
            "backend": "local",
            "entry": e,
            "consistency_proof": [h.hex() for h in ref_consistency(size, leaves[: e["tree_size"]])],
        }
        for e in journal
        if e["tree_size"] >= size
    ]
    bundle = {
        "format": "tiezheng.bundle/v1",
        "event": event,
        "leaf_index": index,
        "attestation": attestation,
        "payload": {"salt": salt.hex(), "value": value},
        "checkpoint": checkpoint_text(log, size, ref_root(leaves[:size])),
        "inclusion_proof": [h.hex() for h in ref_inclusion(index, leaves[:size])],
        "anchors": anchors,
        "keys": {"log": log.pem, "actor": actor.pem},
    }
    return BundleParts(bundle=bundle, log=log, actor=actor, leaves=leaves)


def trust_root_json(*logs: KeyPair, origin: str = ORIGIN, **sections: Any) -> bytes:
    """A ``tiezheng.trust-root/v1`` file trusting ``logs`` for ``origin``, with any extra ``sections``."""
    import json

    root = {
        "v": 1,
        "type": "tiezheng.trust-root/v1",
        "logs": [{"origin": origin, "public_key": key.pem} for key in logs],
        **sections,
    }
    return json.dumps(root).encode()


# Hostile values for fuzzing: each is refused somewhere in some field, none may crash the verifier.
HOSTILE = [
    None, True, 0, -1, 2**53 - 1, 2**53, 2**60, 1.5, 1e308, "", "\x00", "\ud800", "\u202e", "\x1b[2J",
    "0" * 64, "A" * 64, [], {}, [[[]]], "-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----", "=",
    "\u2014 x AAAA", "x" * 5000,
]


def value_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) to a value inside ``value``, the root excluded."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found += [(*path, key), *value_paths(child, (*path, key))]
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A deep copy of ``value`` with the value at ``path`` replaced by ``new`` (deleted for ``DELETE``)."""
    copied = copy.deepcopy(value)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    if new is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copied


DELETE = object()
