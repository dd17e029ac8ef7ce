"""The trust root: the one file that names every key and certificate the verifier trusts (docs/formats.md, "Trust root").

Modelled on sigstore's ``TrustedRoot``: the caller passes it in, the verifier never fetches trust and never
trusts a key that arrives inside the evidence. Sections (``tiezheng.trust-root/v1``):

- ``logs``: per log origin, the SM2 keys allowed to sign its checkpoints and local anchor journal;
- ``fabric``: the business-chain channel, chaincode and each org's CA certificates (per MSP id), which orgs
  must endorse and which orgs' orderers sign blocks;
- ``regulator_chains``: the EVM registry contracts (chain id, contract address, the operator accounts that
  may write to it);
- ``timestamp_authorities``: RFC 3161 TSA root certificates;
- ``witnesses``: C2SP witness keys and how many must cosign (the quorum).

Sections a verifier does not check yet are still parsed and validated, so a file that will be refused
later is refused now. Parsing is as strict as for bundles: unknown fields, duplicate keys, bad PEM and
out-of-range integers are ``MalformedInput``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from verifier._json import (
    MAX_INT,
    JSONObject,
    int_field,
    list_field,
    loads,
    require_fields,
    require_object,
    str_field,
)
from verifier._pem import armor, certificate_der, unarmor
from verifier.errors import MalformedInput, UntrustedLog
from verifier.sm import PublicKey, sm3

__all__ = [
    "MAX_TRUST_ROOT_BYTES",
    "TRUST_ROOT_TYPE",
    "FabricNetwork",
    "FabricOrg",
    "LogKey",
    "RegulatorChain",
    "TimestampAuthority",
    "TrustRoot",
    "WitnessKey",
    "Witnesses",
]

TRUST_ROOT_TYPE = "tiezheng.trust-root/v1"
MAX_TRUST_ROOT_BYTES = 4 * 1024 * 1024
_MAX_ITEMS = 256
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # SEQ { SEQ { 1.3.101.112 }, BIT STRING }
_NAME = re.compile(r"[^\x00-\x20\x7f+]{1,255}")  # C2SP key names: no spaces, controls or '+'
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_MSP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CHANNEL = re.compile(r"[a-z][a-z0-9.-]{0,248}")
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")


@dataclass(frozen=True)
class LogKey:
    """A key trusted to sign the checkpoints (and local anchor journal) of the log ``origin``."""

    origin: str
    public_key: PublicKey

    @property
    def fingerprint(self) -> str:
        """Hex SM3 of the key's SubjectPublicKeyInfo DER (docs/formats.md, "Key fingerprint")."""
        return self.public_key.fingerprint()


@dataclass(frozen=True)
class FabricOrg:
    """A Fabric organisation by MSP id, with the DER CA certificates its peers' or orderers' certificates chain to."""

    msp_id: str
    ca_certificates: tuple[bytes, ...]


@dataclass(frozen=True)
class FabricNetwork:
    """The business chain: channel and chaincode holding checkpoints, the orgs, who must endorse, who orders."""

    channel: str
    chaincode: str
    orgs: tuple[FabricOrg, ...]
    endorsers: tuple[str, ...]
    orderers: tuple[str, ...]


@dataclass(frozen=True)
class RegulatorChain:
    """An EVM registry contract that stores checkpoints and regulator digests: its EIP-155 ``chain_id``,
    ``contract`` address and the ``operators`` it was deployed with (the accounts that may write to it),
    all lower-case hex. ``tiezheng evm deploy`` prints this entry."""

    chain_id: int
    contract: str
    operators: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimestampAuthority:
    """An RFC 3161 time-stamping authority and the DER root certificates its tokens chain to."""

    name: str
    certificates: tuple[bytes, ...]


@dataclass(frozen=True)
class WitnessKey:
    """A C2SP witness: its key name and public key (SubjectPublicKeyInfo DER, SM2 or Ed25519)."""

    name: str
    algorithm: Literal["sm2", "ed25519"]
    spki_der: bytes


@dataclass(frozen=True)
class Witnesses:
    """The witnesses a checkpoint may be cosigned by, and how many must cosign for ``+witnessed``."""

    quorum: int = 0
    keys: tuple[WitnessKey, ...] = ()


@dataclass(frozen=True)
class TrustRoot:
    """What the verifier trusts; build it with ``from_bytes``, ``from_file`` or ``for_log``.

    ``digest`` is the hex SM3 of the bytes it was parsed from, so a report can say which root it used.
    """

    logs: tuple[LogKey, ...]
    digest: str
    fabric: FabricNetwork | None = None
    regulator_chains: tuple[RegulatorChain, ...] = ()
    timestamp_authorities: tuple[TimestampAuthority, ...] = ()
    witnesses: Witnesses = field(default_factory=Witnesses)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustRoot:
        """Parse trust-root JSON; raises ``MalformedInput`` (prefixed "trust root") naming the first problem."""
        try:
            return cls._from_object(require_object(loads(data, "trust root"), "trust root"), sm3(data).hex())
        except MalformedInput as exc:
            message = exc.message if exc.message.startswith("trust root") else f"trust root: {exc.message}"
            raise MalformedInput(message) from exc

    @classmethod
    def from_file(cls, path: str | Path) -> TrustRoot:
        """Read and parse the trust root at ``path``; an unreadable or oversized file is ``MalformedInput``."""
        try:
            with open(path, "rb") as file:
                data = file.read(MAX_TRUST_ROOT_BYTES + 1)
        except OSError as exc:
            raise MalformedInput(f"cannot read trust root {path}: {exc.strerror or exc}") from exc
        if len(data) > MAX_TRUST_ROOT_BYTES:
            raise MalformedInput(f"trust root {path} is larger than {MAX_TRUST_ROOT_BYTES} bytes")
        return cls.from_bytes(data)

    @classmethod
    def for_log(
        cls,
        origin: str,
        public_key_pem: str,
        *,
        fabric: dict[str, Any] | None = None,
        timestamp_authorities: Iterable[tuple[str, list[str]]] = (),
        witnesses: Iterable[tuple[str, str]] = (),
        quorum: int = 0,
    ) -> TrustRoot:
        """A trust root naming one log key (what ``tiezheng trust-root init`` writes), and optionally the
        ``fabric`` section (its JSON form, docs/formats.md), TSAs and witnesses.

        ``origin`` is the log's name in its checkpoints; ``public_key_pem`` its SM2 public key, obtained out
        of band. ``timestamp_authorities`` are (name, PEM root certificates) pairs; ``witnesses`` are (key
        name, PEM public key) pairs, of which ``quorum`` must cosign for ``+witnessed``. Raises
        ``MalformedInput`` for a bad origin, key, fabric section, certificate, name or quorum.
        """
        obj: dict[str, Any] = {"v": 1, "type": TRUST_ROOT_TYPE,
                               "logs": [{"origin": origin, "public_key": public_key_pem}]}
        if fabric is not None:
            obj["fabric"] = fabric
        tsas = [{"name": name, "certificates": list(pems)} for name, pems in timestamp_authorities]
        if tsas:
            obj["timestamp_authorities"] = tsas
        keys = [{"name": name, "public_key": pem} for name, pem in witnesses]
        if keys or quorum:
            obj["witnesses"] = {"quorum": quorum, "keys": keys}
        return cls.from_bytes(json.dumps(obj).encode("utf-8"))

    @classmethod
    def _from_object(cls, obj: JSONObject, digest: str) -> TrustRoot:
        sections = ("fabric", "regulator_chains", "timestamp_authorities", "witnesses")
        require_fields(obj, "trust root", required=("v", "type", "logs"), optional=sections)
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise MalformedInput(f"trust root.v must be 1, got {obj['v']!r}")
        if obj["type"] != TRUST_ROOT_TYPE:
            raise MalformedInput(f"trust root type is {obj['type']!r}, want {TRUST_ROOT_TYPE!r}")
        return cls(
            logs=_unique(
                _items(obj, "logs", "trust root", _log_key, required=True), lambda k: (k.origin, k.fingerprint), "logs"
            ),
            digest=digest,
            fabric=None if obj.get("fabric") is None else _fabric(obj["fabric"]),
            regulator_chains=_unique(
                _items(obj, "regulator_chains", "trust root", _chain), lambda c: c, "regulator_chains"
            ),
            timestamp_authorities=_unique(
                _items(obj, "timestamp_authorities", "trust root", _tsa), lambda t: t.name, "timestamp_authorities"
            ),
            witnesses=Witnesses() if obj.get("witnesses") is None else _witnesses(obj["witnesses"]),
        )

    def log_keys(self, origin: str) -> tuple[LogKey, ...]:
        """The keys trusted for the log ``origin``; raises ``UntrustedLog`` (exit 2) when there are none."""
        found = tuple(key for key in self.logs if key.origin == origin)
        if not found:
            named = ", ".join(sorted({repr(k.origin) for k in self.logs})) or "none"
            raise UntrustedLog(
                f"the trust root names no key for log {origin!r} (it names: {named}). get that log's public key "
                "from its operator out of band (the service serves it at GET /v1/log/public-key; compare the "
                "fingerprint with one the operator publishes) and add it: tiezheng trust-root init "
                f"--origin {shlex.quote(origin)} --log-key KEY.pem -o trust-root.json"
            )
        return found

    def regulator_chain(self, chain_id: int, contract: str) -> RegulatorChain | None:
        """The trusted registry at ``contract`` (any case) on chain ``chain_id``, or None."""
        wanted = (chain_id, contract.lower())
        return next((c for c in self.regulator_chains if (c.chain_id, c.contract) == wanted), None)

    def to_json(self) -> str:
        """The trust root as indented JSON that ``from_bytes`` reads back to an equal root (digest aside)."""
        return json.dumps(_to_object(self), indent=2, ensure_ascii=False) + "\n"


def _items(obj: JSONObject, key: str, where: str, parse: Any, *, required: bool = False) -> tuple[Any, ...]:
    if obj.get(key) is None and not required:
        return ()
    items = list_field(obj, key, where, max_items=_MAX_ITEMS)
    return tuple(parse(item, f"{where}.{key}[{i}]") for i, item in enumerate(items))


def _unique(items: tuple[Any, ...], key: Any, where: str) -> tuple[Any, ...]:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if key(item) in seen:
            raise MalformedInput(f"trust root.{where}[{i}] repeats an earlier entry")
        seen.add(key(item))
    return items


def _text(obj: JSONObject, key: str, where: str, pattern: re.Pattern[str], want: str) -> str:
    value = str_field(obj, key, where)
    if not pattern.fullmatch(value):
        raise MalformedInput(f"{where}.{key} must be {want}, got {value[:80]!r}")
    return value


def _log_key(value: Any, where: str) -> LogKey:
    obj = require_object(value, where)
    require_fields(obj, where, required=("origin", "public_key"))
    origin = _text(obj, "origin", where, _LABEL, "1 to 255 characters without control characters")
    return LogKey(origin=origin, public_key=_sm2_key(obj, "public_key", where))


def _sm2_key(obj: JSONObject, key: str, where: str) -> PublicKey:
    try:
        return PublicKey.from_pem(str_field(obj, key, where))
    except MalformedInput as exc:
        raise MalformedInput(f"{where}.{key}: {exc.message}") from exc


def _fabric(value: Any) -> FabricNetwork:
    where = "trust root.fabric"
    obj = require_object(value, where)
    require_fields(obj, where, required=("channel", "chaincode", "orgs", "endorsers", "orderers"))
    orgs = _unique(_items(obj, "orgs", where, _fabric_org), lambda o: o.msp_id, "fabric.orgs")
    known = {org.msp_id for org in orgs}
    return FabricNetwork(
        channel=_text(obj, "channel", where, _CHANNEL, "a fabric channel name ([a-z][a-z0-9.-]*)"),
        chaincode=_text(obj, "chaincode", where, _MSP_ID, "a chaincode name ([A-Za-z0-9._-], up to 128)"),
        orgs=orgs,
        endorsers=_msp_refs(obj, "endorsers", where, known),
        orderers=_msp_refs(obj, "orderers", where, known),
    )


def _fabric_org(value: Any, where: str) -> FabricOrg:
    obj = require_object(value, where)
    require_fields(obj, where, required=("msp_id", "ca_certificates"))
    return FabricOrg(
        msp_id=_text(obj, "msp_id", where, _MSP_ID, "an msp id ([A-Za-z0-9._-], up to 128)"),
        ca_certificates=_certificates(obj, "ca_certificates", where),
    )


def _msp_refs(obj: JSONObject, key: str, where: str, known: set[str]) -> tuple[str, ...]:
    refs = list_field(obj, key, where, max_items=_MAX_ITEMS)
    for i, ref in enumerate(refs):
        if not isinstance(ref, str) or ref not in known:
            raise MalformedInput(f"{where}.{key}[{i}] must be the msp_id of one of fabric.orgs, got {ref!r}")
    if len(set(refs)) != len(refs) or not refs:
        raise MalformedInput(f"{where}.{key} must name at least one org, each once")
    return tuple(refs)


def _chain(value: Any, where: str) -> RegulatorChain:
    obj = require_object(value, where)
    require_fields(obj, where, required=("chain_id", "contract", "operators"))
    chain_id = int_field(obj, "chain_id", where, maximum=MAX_INT)
    if chain_id == 0:
        raise MalformedInput(f"{where}.chain_id must be a positive eip-155 chain id, got 0")
    contract = _text(obj, "contract", where, _ADDRESS, "0x and 40 lower-case hex digits")
    operators = list_field(obj, "operators", where, max_items=_MAX_ITEMS)
    for i, operator in enumerate(operators):
        if not isinstance(operator, str) or not _ADDRESS.fullmatch(operator):
            raise MalformedInput(f"{where}.operators[{i}] must be 0x and 40 lower-case hex digits, got {operator!r:.80}")
    if not operators or len(set(operators)) != len(operators):
        raise MalformedInput(f"{where}.operators must name at least one account, each once")
    return RegulatorChain(chain_id=chain_id, contract=contract, operators=tuple(operators))


def _tsa(value: Any, where: str) -> TimestampAuthority:
    obj = require_object(value, where)
    require_fields(obj, where, required=("name", "certificates"))
    name = _text(obj, "name", where, _LABEL, "1 to 255 characters without control characters")
    return TimestampAuthority(name=name, certificates=_certificates(obj, "certificates", where))


def _witnesses(value: Any) -> Witnesses:
    where = "trust root.witnesses"
    obj = require_object(value, where)
    require_fields(obj, where, required=("quorum", "keys"))
    found = _items(obj, "keys", where, _witness_key)
    found = _unique(_unique(found, lambda w: w.name, "witnesses.keys"), lambda w: w.spki_der, "witnesses.keys")
    quorum = int_field(obj, "quorum", where, maximum=len(found))
    return Witnesses(quorum=quorum, keys=found)


def _witness_key(value: Any, where: str) -> WitnessKey:
    obj = require_object(value, where)
    require_fields(obj, where, required=("name", "public_key"))
    name = _text(obj, "name", where, _NAME, "a key name without spaces, controls or '+'")
    der = unarmor(str_field(obj, "public_key", where), "PUBLIC KEY", f"{where}.public_key")
    try:
        return WitnessKey(name=name, algorithm="sm2", spki_der=PublicKey.from_der(der).spki_der)
    except MalformedInput as sm2_error:
        if not _is_ed25519(der):
            raise MalformedInput(f"{where}.public_key: want an sm2 or ed25519 key: {sm2_error.message}") from None
    return WitnessKey(name=name, algorithm="ed25519", spki_der=der)


def _is_ed25519(der: bytes) -> bool:
    """True for the one DER encoding of an Ed25519 SubjectPublicKeyInfo (RFC 8410): a fixed prefix, 32 bytes."""
    return len(der) == len(_ED25519_SPKI_PREFIX) + 32 and der.startswith(_ED25519_SPKI_PREFIX)


def _certificates(obj: JSONObject, key: str, where: str) -> tuple[bytes, ...]:
    texts = list_field(obj, key, where, max_items=16)
    if not texts:
        raise MalformedInput(f"{where}.{key} must list at least one certificate")
    return tuple(certificate_der(text, f"{where}.{key}[{i}]") for i, text in enumerate(texts))


def _to_object(root: TrustRoot) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "v": 1,
        "type": TRUST_ROOT_TYPE,
        "logs": [{"origin": k.origin, "public_key": k.public_key.to_pem()} for k in root.logs],
    }
    if root.fabric is not None:
        f = root.fabric
        obj["fabric"] = {
            "channel": f.channel,
            "chaincode": f.chaincode,
            "orgs": [{"msp_id": o.msp_id, "ca_certificates": _pems(o.ca_certificates)} for o in f.orgs],
            "endorsers": list(f.endorsers),
            "orderers": list(f.orderers),
        }
    if root.regulator_chains:
        obj["regulator_chains"] = [
            {"chain_id": c.chain_id, "contract": c.contract, "operators": list(c.operators)}
            for c in root.regulator_chains
        ]
    if root.timestamp_authorities:
        obj["timestamp_authorities"] = [
            {"name": t.name, "certificates": _pems(t.certificates)} for t in root.timestamp_authorities
        ]
    if root.witnesses.keys:
        obj["witnesses"] = {
            "quorum": root.witnesses.quorum,
            "keys": [{"name": w.name, "public_key": armor("PUBLIC KEY", w.spki_der)} for w in root.witnesses.keys],
        }
    return obj


def _pems(ders: Iterable[bytes]) -> list[str]:
    return [armor("CERTIFICATE", der) for der in ders]
