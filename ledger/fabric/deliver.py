"""Reading a peer's blocks: watch for one transaction's validation code, fetch a whole block, find a
transaction in a block. ``Deliver.DeliverFiltered`` and ``Deliver.Deliver`` are the block services every
Fabric from 1.4 to 3.x serves; a block's ``TRANSACTIONS_FILTER`` metadata holds each transaction's
validation code (one byte per transaction, in block order).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ledger.fabric import _protos as pb
from ledger.fabric.errors import FabricCommitError, FabricCommitStatusError

__all__ = ["CommitWatch", "Located", "locate", "read_block"]

_FILTER = 2  # common.BlockMetadataIndex.TRANSACTIONS_FILTER


@dataclass(frozen=True)
class Located:
    """Where a transaction sits in a block: its index among the block's envelopes and its validation code."""

    block_number: int
    tx_index: int
    validation_code: str


class CommitWatch:
    """Reads a filtered block stream on a thread of its own until ``tx_id`` shows up in a block.

    ``stream`` must be positioned before the transaction can be committed (opened before broadcasting).
    ``result(timeout)`` then tells the block number once it is committed VALID.
    """

    def __init__(self, stream: Any, tx_id: str) -> None:
        self.tx_id, self._stream = tx_id, stream
        self._done = threading.Event()
        self._block: int | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._read, name=f"fabric-watch-{tx_id[:8]}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for reply in self._stream:
                if reply.WhichOneof("Type") != "filtered_block":
                    raise FabricCommitStatusError(
                        f"block stream ended: {pb.common.Status.Name(reply.status)}", tx_id=self.tx_id)
                block = reply.filtered_block
                for tx in block.filtered_transactions:
                    if tx.txid == self.tx_id:
                        self._found(pb.transaction.TxValidationCode.Name(tx.tx_validation_code), int(block.number))
                        return
            raise FabricCommitStatusError("block stream closed before the transaction was committed",
                                          tx_id=self.tx_id)
        except pb.grpc.RpcError as exc:
            self._error = FabricCommitStatusError(f"block stream failed: {exc.code().name}: {exc.details()}",
                                                  tx_id=self.tx_id)
        except FabricCommitStatusError as exc:
            self._error = exc
        finally:
            self._done.set()

    def _found(self, code: str, block_number: int) -> None:
        if code == "VALID":
            self._block = block_number
        else:
            self._error = FabricCommitError(f"committed invalid in block {block_number}: {code}",
                                            tx_id=self.tx_id, code=code, block_number=block_number)

    def result(self, timeout: float) -> int | None:
        """The number of the block that committed the transaction VALID, or None if not seen within
        ``timeout`` seconds. Raises ``FabricCommitError`` (committed invalid) or ``FabricCommitStatusError``
        (the stream failed: ask again another way)."""
        if not self._done.wait(timeout):
            return None
        if self._error is not None:
            raise self._error
        return self._block

    def cancel(self) -> None:
        """Close the stream (the reading thread ends)."""
        self._stream.cancel()


def read_block(data: bytes) -> Any:
    """Parse ``common.Block`` bytes; raises ``ValueError`` when they are not a block."""
    try:
        return pb.common.Block.FromString(data)
    except Exception as exc:  # protobuf raises DecodeError
        raise ValueError(f"not a Fabric block: {exc}") from exc


def locate(block: Any, tx_id: str) -> Located | None:
    """Find the first envelope of ``block`` whose channel header names ``tx_id``, with its validation code
    from the block's ``TRANSACTIONS_FILTER`` metadata; None when the block does not hold it."""
    codes = bytes(block.metadata.metadata[_FILTER]) if len(block.metadata.metadata) > _FILTER else b""
    for index, raw in enumerate(block.data.data):
        payload = pb.common.Payload.FromString(pb.common.Envelope.FromString(raw).payload)
        if pb.common.ChannelHeader.FromString(payload.header.channel_header).tx_id == tx_id:
            code = pb.transaction.TxValidationCode.Name(codes[index]) if index < len(codes) else "NOT_VALIDATED"
            return Located(int(block.header.number), index, code)
    return None
