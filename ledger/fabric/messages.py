"""The Fabric transaction messages, built and signed: proposal, transaction envelope, deliver seek.

These are the messages every Fabric from 1.4 to 3.x serves without the Gateway (``protoutil`` in Fabric,
the classic SDKs): a signed ``Proposal`` for ``Endorser.ProcessProposal``, an ``Envelope`` holding the
endorsed ``Transaction`` for ``AtomicBroadcast.Broadcast``, and a signed ``SeekInfo`` envelope for
``Deliver.DeliverFiltered``. The transaction id is hex(SHA-256(nonce || creator)), which peers check.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from ledger.fabric import _protos as pb
from ledger.fabric.identity import Identity

__all__ = ["Proposal", "deliver_seek_envelope", "proposal", "transaction_envelope"]

_MAX_BLOCK = 2**64 - 1


@dataclass(frozen=True)
class Proposal:
    """A signed proposal ready to send, with what the envelope needs later."""

    tx_id: str
    header: bytes                  # common.Header bytes, reused in the transaction's payload
    signature_header: bytes        # common.SignatureHeader bytes
    chaincode_payload: bytes       # peer.ChaincodeProposalPayload bytes
    signed: Any                    # peer.SignedProposal

    def signed_bytes(self) -> bytes:
        """The serialised ``SignedProposal``: all a later process needs to send this proposal again."""
        return bytes(self.signed.SerializeToString())

    @classmethod
    def from_signed_bytes(cls, data: bytes) -> Proposal:
        """Rebuild a proposal from ``signed_bytes()``; raises ``ValueError`` if they are not one."""
        try:
            signed = pb.proposal.SignedProposal.FromString(data)
            prop = pb.proposal.Proposal.FromString(signed.proposal_bytes)
            header = pb.common.Header.FromString(prop.header)
            channel_header = pb.common.ChannelHeader.FromString(header.channel_header)
        except Exception as exc:  # protobuf raises DecodeError and friends
            raise ValueError(f"not a signed Fabric proposal: {exc}") from exc
        return cls(channel_header.tx_id, bytes(prop.header), bytes(header.signature_header), bytes(prop.payload), signed)


def _timestamp(moment: datetime) -> Any:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _channel_header(kind: int, channel: str, tx_id: str, moment: datetime, extension: bytes = b"") -> bytes:
    header = pb.common.ChannelHeader(type=kind, version=0, channel_id=channel, tx_id=tx_id, epoch=0,
                                     extension=extension)
    header.timestamp.CopyFrom(_timestamp(moment))
    return bytes(header.SerializeToString())


def _signature_header(identity: Identity) -> tuple[bytes, str]:
    """The serialised signature header and the transaction id it implies."""
    nonce, creator = os.urandom(24), identity.serialized()
    tx_id = hashlib.sha256(nonce + creator).hexdigest()
    return bytes(pb.common.SignatureHeader(creator=creator, nonce=nonce).SerializeToString()), tx_id


def proposal(identity: Identity, channel: str, chaincode: str, args: list[bytes], moment: datetime) -> Proposal:
    """A signed proposal to run ``chaincode`` with ``args`` (function name first) on ``channel``."""
    signature_header, tx_id = _signature_header(identity)
    extension = pb.proposal.ChaincodeHeaderExtension(chaincode_id=pb.chaincode.ChaincodeID(name=chaincode))
    channel_header = _channel_header(pb.common.ENDORSER_TRANSACTION, channel, tx_id, moment,
                                     extension.SerializeToString())
    header = bytes(pb.common.Header(channel_header=channel_header, signature_header=signature_header)
                   .SerializeToString())
    spec = pb.chaincode.ChaincodeSpec(type=pb.chaincode.ChaincodeSpec.GOLANG,
                                      chaincode_id=pb.chaincode.ChaincodeID(name=chaincode),
                                      input=pb.chaincode.ChaincodeInput(args=args))
    invocation = pb.chaincode.ChaincodeInvocationSpec(chaincode_spec=spec)
    payload = bytes(pb.proposal.ChaincodeProposalPayload(input=invocation.SerializeToString()).SerializeToString())
    proposal_bytes = pb.proposal.Proposal(header=header, payload=payload).SerializeToString()
    signed = pb.proposal.SignedProposal(proposal_bytes=proposal_bytes, signature=identity.sign(proposal_bytes))
    return Proposal(tx_id, header, signature_header, payload, signed)


def transaction_envelope(identity: Identity, prop: Proposal, response_payload: bytes, endorsements: list[Any]) -> Any:
    """The signed envelope of the transaction that carries ``prop``'s agreed result and its endorsements."""
    endorsed = pb.transaction.ChaincodeEndorsedAction(proposal_response_payload=response_payload,
                                                      endorsements=endorsements)
    action_payload = pb.transaction.ChaincodeActionPayload(chaincode_proposal_payload=prop.chaincode_payload,
                                                           action=endorsed)
    action = pb.transaction.TransactionAction(header=prop.signature_header,
                                              payload=action_payload.SerializeToString())
    tx = pb.transaction.Transaction(actions=[action])
    payload = pb.common.Payload(header=pb.common.Header.FromString(prop.header), data=tx.SerializeToString())
    payload_bytes = payload.SerializeToString()
    return pb.common.Envelope(payload=payload_bytes, signature=identity.sign(payload_bytes))


def deliver_seek_envelope(identity: Identity, channel: str, moment: datetime, *, start: int | None = None,
                          stop: int = _MAX_BLOCK) -> Any:
    """A signed request for ``channel``'s blocks from ``start`` (default: the newest) to ``stop`` (default:
    without end), waiting for blocks not yet committed."""
    signature_header, tx_id = _signature_header(identity)
    channel_header = _channel_header(pb.common.DELIVER_SEEK_INFO, channel, tx_id, moment)
    header = pb.common.Header(channel_header=channel_header, signature_header=signature_header)
    if start is None:
        first = pb.ab.SeekPosition(newest=pb.ab.SeekNewest())
    else:
        first = pb.ab.SeekPosition(specified=pb.ab.SeekSpecified(number=start))
    seek = pb.ab.SeekInfo(start=first, stop=pb.ab.SeekPosition(specified=pb.ab.SeekSpecified(number=stop)),
                          behavior=pb.ab.SeekInfo.BLOCK_UNTIL_READY)
    payload_bytes = pb.common.Payload(header=header, data=seek.SerializeToString()).SerializeToString()
    return pb.common.Envelope(payload=payload_bytes, signature=identity.sign(payload_bytes))
