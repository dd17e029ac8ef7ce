"""``tiezheng verify ... --fabric ADDRESS``: ask a live peer for the block of a verified Fabric anchor and
compare it with the block in the receipt (the one network access of the verifier, only when asked).

A peer serves blocks only to a member of the channel, so the request is signed by the client identity of a
Fabric client profile (docs/formats.md, "Fabric client profile"), which also gives the peer's TLS root. The
request is the ``Deliver`` seek every Fabric from 1.4 to 3.x serves; the messages come from the protobuf
bindings, a format library, and grpc carries them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from verifier import _fabric_pb as pb
from verifier.errors import AnchorMismatch, MalformedInput, VerificationFailed
from verifier.fabric import FabricReceipt

__all__ = ["compare_with_peer"]

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_DELIVER_SEEK_INFO = 5  # common.HeaderType


def compare_with_peer(receipt: FabricReceipt, *, address: str, profile: str | Path, timeout: float = 20.0) -> str:
    """Fetch block ``receipt.block_number`` from the peer at ``address`` (host:port, one of the profile's
    peers) and compare header, transactions and the transaction's validation code with the receipt's block.

    Returns a one-line finding; raises ``AnchorMismatch`` when the live block differs, ``VerificationFailed``
    when the peer cannot be asked, ``MalformedInput`` for an unusable profile.
    """
    org, tls_ca, msp_id, cert, key = _profile(Path(profile), address)
    live = pb.common.Block.FromString(_fetch(address, org, tls_ca, msp_id, cert, key, receipt, timeout))
    ours = pb.common.Block.FromString(receipt.block)
    codes = (bytes(live.metadata.metadata[2])[receipt.tx_index:receipt.tx_index + 1],
             bytes(ours.metadata.metadata[2])[receipt.tx_index:receipt.tx_index + 1])
    for what, got, want in (("header", live.header.SerializeToString(), ours.header.SerializeToString()),
                            ("transactions", live.data.SerializeToString(), ours.data.SerializeToString()),
                            ("validation code", codes[0], codes[1])):
        if got != want:
            raise AnchorMismatch(f"the live peer {address} serves block {receipt.block_number} with another {what} "
                                 f"(sha-256 {hashlib.sha256(got).hexdigest()[:16]}, receipt's "
                                 f"{hashlib.sha256(want).hexdigest()[:16]})")
    return f"peer {address} ({msp_id} asked) serves block {receipt.block_number} with the same header, transactions " \
           "and validation code"


def _profile(path: Path, address: str) -> tuple[dict[str, Any], bytes, str, bytes, ec.EllipticCurvePrivateKey]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        org = next(o for o in data["organizations"] if o["peer_endpoint"] == address)
        client = data["organizations"][0]
        msp = _file(path.parent, client["user_msp"])
        certs, keys = sorted((msp / "signcerts").glob("*.pem")), sorted((msp / "keystore").glob("*"))
        key = serialization.load_pem_private_key(keys[0].read_bytes(), password=None)
        tls_ca = _file(path.parent, org["tls_ca_cert"]).read_bytes()
        cert = certs[0].read_bytes()
    except StopIteration as exc:
        raise MalformedInput(f"fabric profile {path} names no peer at {address}") from exc
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise MalformedInput(f"fabric profile {path} is unusable: {type(exc).__name__}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise MalformedInput(f"fabric profile {path}: the client key is not an ecdsa key")
    return org, tls_ca, str(client["msp_id"]), cert, key


def _file(base: Path, name: str) -> Path:
    return Path(name) if Path(name).is_absolute() else base / name


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return encode_dss_signature(r, min(s, _P256_N - s))


def _seek(channel: str, msp_id: str, cert: bytes, key: ec.EllipticCurvePrivateKey, number: int) -> Any:
    ab = importlib.import_module("fabric_protos.orderer.ab_pb2")
    creator = pb.identities.SerializedIdentity(mspid=msp_id, id_bytes=cert).SerializeToString()
    nonce = os.urandom(24)
    header = pb.common.ChannelHeader(type=_DELIVER_SEEK_INFO, channel_id=channel,
                                     tx_id=hashlib.sha256(nonce + creator).hexdigest())
    header.timestamp.GetCurrentTime()
    position = ab.SeekPosition(specified=ab.SeekSpecified(number=number))
    seek = ab.SeekInfo(start=position, stop=position, behavior=ab.SeekInfo.FAIL_IF_NOT_READY)
    payload = pb.common.Payload(header=pb.common.Header(
        channel_header=header.SerializeToString(),
        signature_header=pb.common.SignatureHeader(creator=creator, nonce=nonce).SerializeToString()),
        data=seek.SerializeToString()).SerializeToString()
    return pb.common.Envelope(payload=payload, signature=_sign(key, payload))


def _fetch(address: str, org: dict[str, Any], tls_ca: bytes, msp_id: str, cert: bytes,
           key: ec.EllipticCurvePrivateKey, receipt: FabricReceipt, timeout: float) -> bytes:
    grpc = importlib.import_module("grpc")
    events_grpc = importlib.import_module("fabric_protos.peer.events_pb2_grpc")
    options = [("grpc.ssl_target_name_override", org["peer_host_name"])] if org.get("peer_host_name") else []
    channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=tls_ca), options)
    try:
        seek = _seek(receipt.channel, msp_id, cert, key, receipt.block_number)
        for reply in events_grpc.DeliverStub(channel).Deliver(iter([seek]), timeout=timeout):
            if reply.WhichOneof("Type") == "block":
                return bytes(reply.block.SerializeToString())
            raise VerificationFailed(f"the live peer {address} refused block {receipt.block_number}: status "
                                     f"{reply.status}")
    except grpc.RpcError as exc:
        raise VerificationFailed(f"cannot ask the live peer {address}: {exc.code().name}: {exc.details()}") from exc
    finally:
        channel.close()
    raise VerificationFailed(f"the live peer {address} closed the stream without block {receipt.block_number}")
