"""``tiezheng verify --evm URL``: confirm an EVM receipt against a node of the regulator chain.

The only part of the verifier that talks to a network, and only when asked. Over plain JSON-RPC (stdlib
``urllib``, no web3), it checks what offline verification cannot: that the node's chain has the receipt's
chain id, that its block at that height is the receipt's block (so the block is on the chain the node
follows), and that the node's receipt of the transaction hash is in that block, succeeded, was sent by the
claimed sender, and holds the same log. Trust in the node is the caller's: ask a node you run or trust.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from verifier.errors import ChainMismatch, CheckUnavailable
from verifier.evm import EvmEvidence, EvmLog

__all__ = ["confirm_on_chain"]

_MAX_RESPONSE = 8 * 1024 * 1024


def confirm_on_chain(evidence: EvmEvidence, url: str, *, timeout: float = 10.0) -> str:
    """Check ``evidence`` against the node at ``url`` (http or https); return what was confirmed.

    Raises ``ChainMismatch`` when the node's chain disagrees, ``CheckUnavailable`` when it cannot be asked.
    """
    rpc = _Rpc(url, timeout)
    chain_id = _int(rpc.call("eth_chainId", []), "eth_chainId")
    if chain_id != evidence.chain_id:
        raise ChainMismatch(f"the node at {url} serves chain {chain_id}, the receipt is for chain {evidence.chain_id}")
    block = rpc.call("eth_getBlockByNumber", [hex(evidence.block_number), False])
    if not isinstance(block, dict) or block.get("hash") != "0x" + evidence.block_hash.hex():
        found = block.get("hash") if isinstance(block, dict) else None
        raise ChainMismatch(f"the chain's block {evidence.block_number} is {found}, not 0x{evidence.block_hash.hex()}: "
                            "the receipt's block is not on the chain this node follows")
    _check_receipt(rpc.call("eth_getTransactionReceipt", ["0x" + evidence.tx_hash.hex()]), evidence)
    latest = _int(rpc.call("eth_blockNumber", []), "eth_blockNumber")
    return (f"confirmed at {url}: block {evidence.block_number} is on chain {chain_id} "
            f"({latest - evidence.block_number + 1} confirmations), transaction 0x{evidence.tx_hash.hex()} "
            f"from {evidence.sender} holds the log")


def _check_receipt(receipt: Any, evidence: EvmEvidence) -> None:
    tx = "0x" + evidence.tx_hash.hex()
    if not isinstance(receipt, dict):
        raise ChainMismatch(f"the node has no receipt for transaction {tx}")
    if receipt.get("blockHash") != "0x" + evidence.block_hash.hex() or receipt.get("status") != "0x1":
        raise ChainMismatch(f"the node's receipt of {tx} is in block {receipt.get('blockHash')} with status "
                            f"{receipt.get('status')}, want block 0x{evidence.block_hash.hex()} and status 0x1")
    if str(receipt.get("from", "")).lower() != evidence.sender:
        raise ChainMismatch(f"the node says {tx} was sent by {receipt.get('from')}, the receipt says {evidence.sender}")
    logs: list[Any] = receipt["logs"] if isinstance(receipt.get("logs"), list) else []
    mine = [lg for lg in logs if isinstance(lg, dict) and lg.get("logIndex") == hex(evidence.log_index)]
    if len(mine) != 1 or _log(mine[0]) != evidence.log:
        raise ChainMismatch(f"the node's receipt of {tx} has no log {evidence.log_index} equal to the receipt's")


def _log(obj: dict[str, Any]) -> EvmLog | None:
    try:
        return EvmLog(bytes.fromhex(str(obj["address"])[2:].lower()),
                      tuple(bytes.fromhex(str(t)[2:]) for t in obj["topics"]), bytes.fromhex(str(obj["data"])[2:]))
    except (KeyError, TypeError, ValueError):
        return None


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value), 16)
    except ValueError as exc:
        raise CheckUnavailable(f"the node answered {what} with {str(value)[:40]!r}, not a quantity") from exc


class _Rpc:
    def __init__(self, url: str, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise CheckUnavailable(f"--evm wants an http(s):// JSON-RPC url, got {url[:80]!r}")
        self.url, self.timeout, self._id = url, timeout, 0

    def call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read(_MAX_RESPONSE))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CheckUnavailable(f"cannot ask the evm node at {self.url} ({method}): {exc}") from exc
        if not isinstance(data, dict) or "error" in data or "result" not in data:
            error = data.get("error") if isinstance(data, dict) else data
            raise CheckUnavailable(f"the evm node at {self.url} refused {method}: {str(error)[:200]}")
        return data["result"]
