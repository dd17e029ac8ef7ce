"""A Fabric client over gRPC without the Gateway service: endorse, order, learn the validation code.

``submit`` signs a proposal and sends it to one peer of each organisation (``Endorser.ProcessProposal``),
checks that every endorsement succeeded and that their results agree, assembles and signs the transaction
envelope, broadcasts it to an orderer (``AtomicBroadcast.Broadcast``; on refusal or failure the next one is
tried), and waits for its validation code on a peer's filtered block stream (``Deliver.DeliverFiltered``),
which it opened before broadcasting. ``evaluate`` runs a query on one peer without ordering it.

These services and messages are the same in every Fabric from 1.4 through 3.x, so the client works against
the native 2.1.1 network of ``network/fabric`` and a production Fabric 2.5 alike; it uses nothing 2.1-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.clock import Clock
from ledger.fabric import _protos as pb
from ledger.fabric import messages
from ledger.fabric.deliver import CommitWatch
from ledger.fabric.errors import (
    FabricCommitError,
    FabricCommitStatusError,
    FabricEndorseError,
    FabricSubmitError,
)
from ledger.fabric.identity import Identity

__all__ = ["Committed", "Endpoint", "FabricClient"]


@dataclass(frozen=True)
class Endpoint:
    """A peer or orderer: ``address`` (host:port), the PEM ``tls_ca`` it is trusted by, its TLS host name."""

    address: str
    tls_ca: bytes
    host_name: str | None = None


@dataclass(frozen=True)
class Committed:
    """A transaction committed VALID: its id, its block, and the chaincode's result."""

    tx_id: str
    block_number: int
    result: bytes


class FabricClient:
    """Submits and evaluates transactions of one chaincode on one channel as one identity.

    ``endorsers`` lists one peer per organisation whose endorsement the chaincode's policy needs; the first
    also serves the block stream. ``orderers`` are tried in order. Timeouts are in seconds, per stage.
    """

    def __init__(self, *, identity: Identity, channel: str, chaincode: str, endorsers: Sequence[Endpoint],
                 orderers: Sequence[Endpoint], clock: Clock, endorse_timeout: float = 30.0,
                 submit_timeout: float = 10.0, commit_timeout: float = 60.0) -> None:
        if not endorsers or not orderers:
            raise ValueError("a Fabric client needs at least one endorsing peer and one orderer")
        self.identity, self.channel, self.chaincode = identity, channel, chaincode
        self.endorsers, self.orderers, self.clock = list(endorsers), list(orderers), clock
        self._timeouts = (endorse_timeout, submit_timeout, commit_timeout)
        self._channels: dict[str, Any] = {}

    def close(self) -> None:
        """Close every gRPC connection."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def _grpc(self, endpoint: Endpoint) -> Any:
        if endpoint.address not in self._channels:
            options = [("grpc.ssl_target_name_override", endpoint.host_name)] if endpoint.host_name else []
            credentials = pb.grpc.ssl_channel_credentials(root_certificates=endpoint.tls_ca)
            self._channels[endpoint.address] = pb.grpc.secure_channel(endpoint.address, credentials, options)
        return self._channels[endpoint.address]

    def evaluate(self, function: str, *args: str, peer: int = 0) -> bytes:
        """Run ``function(args)`` on endorser ``peer`` without ordering it; returns the chaincode's result.

        Raises ``FabricEndorseError`` when the peer is unreachable or the chaincode refuses.
        """
        prop = self.propose(function, *args)
        return bytes(self.endorse(prop, [self.endorsers[peer]])[0].response.payload)

    def submit(self, function: str, *args: str) -> Committed:
        """Run ``function(args)`` as a transaction and wait until it is committed.

        Raises ``FabricEndorseError`` (a peer refused, or the results differ), ``FabricSubmitError`` (no
        orderer accepted it), ``FabricCommitStatusError`` (no validation code in time) or
        ``FabricCommitError`` (committed invalid, e.g. ``ENDORSEMENT_POLICY_FAILURE``); each has the tx id.
        """
        prop = self.propose(function, *args)
        responses = self.endorse(prop)
        envelope = self.envelope(prop, responses)
        stream = self._open_block_stream(prop.tx_id)
        try:
            self.broadcast(envelope, prop.tx_id)
            block_number = self._wait_for(stream, prop.tx_id)
        finally:
            stream.cancel()
        return Committed(prop.tx_id, block_number, bytes(responses[0].response.payload))

    def watch(self, tx_id: str, *, peer: int = 0) -> CommitWatch:
        """Watch endorser ``peer``'s filtered block stream, from the newest block on, for ``tx_id`` (open it
        before broadcasting). Raises ``FabricCommitStatusError`` when the stream cannot be opened."""
        return CommitWatch(self._open_block_stream(tx_id, peer=peer), tx_id)

    def block(self, number: int, *, peer: int = 0) -> bytes:
        """The serialised block ``number`` of the channel from endorser ``peer`` (``Deliver.Deliver``).

        Raises ``FabricCommitStatusError`` when the peer does not serve it.
        """
        endpoint = self.endorsers[peer]
        seek = messages.deliver_seek_envelope(self.identity, self.channel, self.clock.now(), start=number, stop=number)
        try:
            for reply in pb.events_grpc.DeliverStub(self._grpc(endpoint)).Deliver(iter([seek]),
                                                                                   timeout=self._timeouts[2]):
                if reply.WhichOneof("Type") == "block":
                    return bytes(reply.block.SerializeToString())
                raise FabricCommitStatusError(f"{endpoint.address} did not serve block {number}: "
                                              f"{pb.common.Status.Name(reply.status)}", tx_id="-")
        except pb.grpc.RpcError as exc:
            raise FabricCommitStatusError(f"{endpoint.address} did not serve block {number}: {exc.code().name}: "
                                          f"{exc.details()}", tx_id="-") from exc
        raise FabricCommitStatusError(f"{endpoint.address} closed the stream without block {number}", tx_id="-")

    def block_by_tx_id(self, tx_id: str, *, peer: int = 0) -> bytes | None:
        """The serialised block that holds ``tx_id`` (valid or not), from endorser ``peer``'s ledger through
        the query system chaincode (``qscc GetBlockByTxID``); None when the peer knows no such transaction.

        Raises ``FabricEndorseError`` when the peer cannot be asked.
        """
        prop = messages.proposal(self.identity, self.channel, "qscc",
                                 [b"GetBlockByTxID", self.channel.encode(), tx_id.encode()], self.clock.now())
        try:
            return bytes(self.endorse(prop, [self.endorsers[peer]])[0].response.payload)
        except FabricEndorseError as exc:
            if any("no such transaction" in d.lower() for d in exc.details):
                return None
            raise

    def submit_endorsed_by(self, peers: Sequence[int], function: str, *args: str) -> Committed:
        """``submit`` with the endorsements of the listed endorsers only (to test endorsement policies)."""
        chosen = FabricClient(identity=self.identity, channel=self.channel, chaincode=self.chaincode,
                              endorsers=[self.endorsers[i] for i in peers], orderers=self.orderers,
                              clock=self.clock)
        chosen._channels = self._channels
        return chosen.submit(function, *args)

    def propose(self, function: str, *args: str) -> messages.Proposal:
        """A signed proposal to run ``function(args)`` of the chaincode; its ``tx_id`` is known at once."""
        return messages.proposal(self.identity, self.channel, self.chaincode,
                                 [function.encode(), *(a.encode() for a in args)], self.clock.now())

    def endorse(self, prop: messages.Proposal, peers: Sequence[Endpoint] | None = None) -> list[Any]:
        """Every peer's proposal response (default: every endorser); all must succeed with the same result.

        Raises ``FabricEndorseError`` naming each peer that refused or could not be reached.
        """
        responses, failures, asked = [], [], list(self.endorsers if peers is None else peers)
        for peer in asked:
            try:
                response = pb.peer_grpc.EndorserStub(self._grpc(peer)).ProcessProposal(
                    prop.signed, timeout=self._timeouts[0])
            except pb.grpc.RpcError as exc:
                failures.append(f"{peer.address}: {exc.code().name}: {exc.details()}")
                continue
            if response.response.status >= 400:
                failures.append(f"{peer.address}: status {response.response.status}: {response.response.message}")
            responses.append(response)
        if failures:
            raise FabricEndorseError(f"{len(failures)} of {len(asked)} peers refused to endorse: "
                                     + "; ".join(failures), tx_id=prop.tx_id, details=failures)
        if len({r.payload for r in responses}) != 1:
            raise FabricEndorseError("the peers' endorsed results differ", tx_id=prop.tx_id)
        return responses

    def envelope(self, prop: messages.Proposal, responses: Sequence[Any]) -> Any:
        """The signed transaction envelope of ``prop`` carrying ``responses``' agreed result and endorsements."""
        return messages.transaction_envelope(self.identity, prop, responses[0].payload,
                                             [r.endorsement for r in responses])

    def broadcast(self, envelope: Any, tx_id: str) -> None:
        """Hand the envelope to the first orderer that accepts it; ``FabricSubmitError`` if none does."""
        refusals = []
        for orderer in self.orderers:
            try:
                replies = pb.ab_grpc.AtomicBroadcastStub(self._grpc(orderer)).Broadcast(
                    iter([envelope]), timeout=self._timeouts[1])
                reply = next(iter(replies))
            except (pb.grpc.RpcError, StopIteration) as exc:
                refusals.append(f"{orderer.address}: {getattr(exc, 'details', lambda: 'no reply')()}")
                continue
            if reply.status == pb.common.SUCCESS:
                return
            refusals.append(f"{orderer.address}: {pb.common.Status.Name(reply.status)} {reply.info}")
        raise FabricSubmitError("no orderer accepted the transaction: " + "; ".join(refusals), tx_id=tx_id)

    def _open_block_stream(self, tx_id: str, *, peer: int = 0) -> Any:
        """A filtered block stream from endorser ``peer``, positioned at the newest block."""
        seek = messages.deliver_seek_envelope(self.identity, self.channel, self.clock.now())
        try:
            stream = pb.events_grpc.DeliverStub(self._grpc(self.endorsers[peer])).DeliverFiltered(
                iter([seek]), timeout=self._timeouts[2])
            first = next(stream)
        except (pb.grpc.RpcError, StopIteration) as exc:
            raise FabricCommitStatusError(f"cannot open the block stream of {self.endorsers[peer].address}: "
                                          f"{getattr(exc, 'details', lambda: 'closed')()}", tx_id=tx_id) from exc
        if first.WhichOneof("Type") != "filtered_block":
            raise FabricCommitStatusError(f"block stream refused: {pb.common.Status.Name(first.status)}", tx_id=tx_id)
        return stream

    def _wait_for(self, stream: Any, tx_id: str) -> int:
        """The number of the block that commits ``tx_id`` VALID."""
        try:
            for reply in stream:
                if reply.WhichOneof("Type") != "filtered_block":
                    raise FabricCommitStatusError(f"block stream ended: {pb.common.Status.Name(reply.status)}",
                                                  tx_id=tx_id)
                block = reply.filtered_block
                for tx in block.filtered_transactions:
                    if tx.txid == tx_id:
                        return self._validated(tx, int(block.number))
        except pb.grpc.RpcError as exc:
            raise FabricCommitStatusError(f"no validation code: {exc.code().name}: {exc.details()}",
                                          tx_id=tx_id) from exc
        raise FabricCommitStatusError("block stream closed before the transaction was committed", tx_id=tx_id)

    @staticmethod
    def _validated(tx: Any, block_number: int) -> int:
        code = pb.transaction.TxValidationCode.Name(tx.tx_validation_code)
        if code != "VALID":
            raise FabricCommitError(f"committed invalid in block {block_number}: {code}", tx_id=tx.txid, code=code,
                                    block_number=block_number)
        return block_number
