"""A client of the registry contract over JSON-RPC (web3.py 8): deploy it, sign and send writes, read it.

Writes are signed locally by an ``OperatorKey`` and sent raw (``eth_sendRawTransaction``), so the
transaction hash is known before anything is sent: the staged backends (``ledger.anchors.evm``,
``ledger.evm.digests``) persist it first. Every web3 / transport exception is translated here, once:
``EvmUnavailable`` (node unreachable, retry later) or ``EvmTransactionError`` (refused or reverted, final).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar

import requests
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)

from ledger.errors import EvmTransactionError, EvmUnavailable
from ledger.evm.abi import REGISTRY_ABI, date_number
from ledger.evm.chaindata import block_evidence, receipt_json
from ledger.evm.operator import OperatorKey

__all__ = ["DEFAULT_GAS", "Deployment", "Registry", "SignedTx", "connect", "event_topic"]

DEFAULT_GAS = 200_000
"""Gas limit of a registry write (a first checkpoint of an origin takes about 94 000). Fixed rather than
estimated, so a write that would revert is still mined and its receipt carries the contract's reason."""
_DEPLOY_GAS = 1_500_000
_T = TypeVar("_T")
_UNAVAILABLE = (requests.RequestException, OSError, ProviderConnectionError, RequestTimedOut, TooManyRequests)


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction: its hash (``0x`` hex, known before sending), raw bytes, sender and nonce."""

    tx_hash: str
    raw: bytes
    sender: str
    nonce: int

    def to_json(self) -> dict[str, Any]:
        """JSON form, kept in a pending anchor's body."""
        return {"tx_hash": self.tx_hash, "raw": "0x" + self.raw.hex(), "sender": self.sender, "nonce": self.nonce}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedTx:
        """Inverse of ``to_json``."""
        return cls(data["tx_hash"], bytes.fromhex(data["raw"][2:]), data["sender"], data["nonce"])


@dataclass(frozen=True)
class Deployment:
    """A deployed registry: chain id, contract address (lower-case), operators (lower-case), block, tx hash."""

    chain_id: int
    contract: str
    operators: tuple[str, ...]
    block_number: int
    tx_hash: str

    def trust_root_entry(self) -> dict[str, Any]:
        """The ``regulator_chains`` entry of a trust root (docs/formats.md, "Trust root") for this registry."""
        return {"chain_id": self.chain_id, "contract": self.contract, "operators": list(self.operators)}


class Registry:
    """The registry contract at ``contract`` on the chain behind ``rpc_url``; ``timeout`` bounds each call.

    Requires a contract address (``0x`` and 40 hex digits). The chain id is read once, on first use.
    """

    def __init__(self, rpc_url: str, contract: str, *, timeout: float = 10.0) -> None:
        self.rpc_url, self.w3 = rpc_url, connect(rpc_url, timeout=timeout)
        if not Web3.is_address(contract):
            raise ValueError(f"not a contract address: {contract!r}")
        self.contract = Web3.to_checksum_address(contract)
        self._contract = self.w3.eth.contract(address=self.contract, abi=REGISTRY_ABI)
        self._chain_id: int | None = None

    # -- deployment ------------------------------------------------------------------------------
    @classmethod
    def deploy(cls, rpc_url: str, key: OperatorKey, *, bytecode: str, operators: list[str] | None = None,
               timeout: float = 10.0, wait: float = 120.0) -> tuple[Registry, Deployment]:
        """Deploy the registry from ``bytecode`` (the compiled artifact's), signed by ``key``, with
        ``operators`` (default: ``key``'s address alone) as its writers; wait up to ``wait`` seconds for it
        to be mined. Raises ``EvmUnavailable`` or ``EvmTransactionError``."""
        w3 = connect(rpc_url, timeout=timeout)
        writers = [Web3.to_checksum_address(a) for a in (operators if operators is not None else [key.address])]
        factory = w3.eth.contract(abi=REGISTRY_ABI, bytecode=bytecode)
        with _translated(None):
            data = factory.constructor(writers).data_in_transaction
            nonce = w3.eth.get_transaction_count(Web3.to_checksum_address(key.address), "pending")
            tx = _signed(w3, key, {"data": data, "gas": _DEPLOY_GAS, "nonce": nonce})
            w3.eth.send_raw_transaction(tx.raw)
            receipt = w3.eth.wait_for_transaction_receipt(HexBytes(tx.tx_hash), timeout=wait)
        if receipt["status"] != 1 or receipt["contractAddress"] is None:
            raise EvmTransactionError(f"deployment {tx.tx_hash} reverted", tx_hash=tx.tx_hash, reason="reverted")
        registry = cls(rpc_url, receipt["contractAddress"], timeout=timeout)
        return registry, Deployment(registry.chain_id, registry.contract.lower(), tuple(a.lower() for a in writers),
                                    int(receipt["blockNumber"]), tx.tx_hash)

    # -- writes ----------------------------------------------------------------------------------
    def sign_anchor(self, key: OperatorKey, origin_hash: bytes, size: int, root: bytes, *, nonce: int,
                    fee_bump: int = 0) -> SignedTx:
        """``anchorCheckpoint(origin_hash, size, root)`` signed by ``key`` with ``nonce`` (not sent); fees
        raised by ``fee_bump`` percent (to replace a transaction of the same nonce)."""
        return self._sign(key, self._contract.functions.anchorCheckpoint(origin_hash, size, root), nonce, fee_bump)

    def sign_digest(self, key: OperatorKey, tenant_hash: bytes, day: date, digest: bytes, *, nonce: int,
                    fee_bump: int = 0) -> SignedTx:
        """``recordDigest(tenant_hash, YYYYMMDD, digest)`` signed by ``key`` with ``nonce`` (not sent)."""
        call = self._contract.functions.recordDigest(tenant_hash, date_number(day), digest)
        return self._sign(key, call, nonce, fee_bump)

    def send(self, tx: SignedTx) -> None:
        """Send ``tx`` raw. Idempotent: a node that already has it ("already known") or mined it is fine.
        Raises ``EvmUnavailable``, or ``EvmTransactionError`` when the node refuses it for good (its nonce
        was taken by another transaction, a bad signature, too little gas money)."""
        try:
            with _translated(tx.tx_hash):
                self.w3.eth.send_raw_transaction(tx.raw)
        except EvmTransactionError as exc:
            if "already known" in exc.reason.lower() or self.known(tx.tx_hash):
                return
            raise

    def nonce(self, address: str, block: Literal["pending", "latest"] = "pending") -> int:
        """The next nonce of ``address`` as the node counts it at ``block`` (``pending`` or ``latest``)."""
        return self._call(lambda: int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), block)))

    def fees(self) -> dict[str, int]:
        """Fee fields for a new transaction: EIP-1559 when the chain has a base fee, else a legacy gas price."""
        return self._call(lambda: _fees(self.w3))

    # -- status ----------------------------------------------------------------------------------
    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The mined receipt of ``tx_hash`` (web3's form), or None while it is not mined."""
        def get() -> dict[str, Any] | None:
            try:
                return dict(self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
            except TransactionNotFound:
                return None
        return self._call(get)

    def known(self, tx_hash: str) -> bool:
        """True if the node knows ``tx_hash`` (in its pool or mined)."""
        def get() -> bool:
            try:
                self.w3.eth.get_transaction(HexBytes(tx_hash))
                return True
            except TransactionNotFound:
                return False
        return self._call(get)

    def block_number(self) -> int:
        """The number of the node's latest block."""
        return self._call(lambda: int(self.w3.eth.block_number))

    def revert_reason(self, receipt: dict[str, Any]) -> str:
        """Why the reverted transaction of ``receipt`` reverted: its call replayed on the state before its block."""
        tx = self._call(lambda: self.w3.eth.get_transaction(receipt["transactionHash"]))
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return _reason(exc)
        except Web3Exception as exc:
            return f"reverted (reason unreadable: {exc})"
        return "reverted (the call succeeds when replayed before its block: another write of that block came first)"

    def evidence(self, receipt: dict[str, Any], log_index: int) -> dict[str, Any]:
        """What a verifier needs offline about the log at ``log_index`` (block-wide) of ``receipt``: tx
        hash, block number and hash, the log, the block header fields and every receipt of the block."""
        block = self._call(lambda: dict(self.w3.eth.get_block(receipt["blockHash"])))
        receipts = self._call(lambda: self._block_receipts(block))
        log = next(lg for lg in receipt["logs"] if int(lg["logIndex"]) == log_index)
        return {"chain_id": self.chain_id, "contract": self.contract.lower(), "tx_hash": _hex(receipt["transactionHash"]),
                "from": str(receipt["from"]).lower(), "transaction_index": int(receipt["transactionIndex"]),
                **block_evidence(block, log), "receipts": [receipt_json(r) for r in receipts]}

    def _block_receipts(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        """Every receipt of ``block``: ``eth_getBlockReceipts``, or one call per transaction on a node without it."""
        try:
            return [dict(r) for r in self.w3.eth.get_block_receipts(block["hash"])]
        except Web3RPCError:
            return [dict(self.w3.eth.get_transaction_receipt(tx)) for tx in block["transactions"]]

    # -- reads -----------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        """The chain's EIP-155 id."""
        if self._chain_id is None:
            self._chain_id = self._call(lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def latest_checkpoint(self, origin_hash: bytes) -> tuple[int, bytes]:
        """The largest (size, root) recorded for ``origin_hash``; (0, 32 zero bytes) if none."""
        size, root = self._call(lambda: self._contract.functions.latestCheckpoint(origin_hash).call())
        return int(size), bytes(root)

    def digest_of(self, tenant_hash: bytes, day: date) -> bytes | None:
        """The digest recorded for ``tenant_hash`` and ``day``, or None."""
        value = bytes(self._call(lambda: self._contract.functions.digestOf(tenant_hash, date_number(day)).call()))
        return None if value == bytes(32) else value

    def operators(self) -> list[str]:
        """The operator accounts (lower-case hex), in deployment order."""
        return [str(a).lower() for a in self._call(lambda: self._contract.functions.operators().call())]

    def logs(self, event: str, topic1: bytes, *, from_block: int) -> list[dict[str, Any]]:
        """The registry's logs of ``event`` (its signature text) whose first indexed argument is ``topic1``,
        from block ``from_block`` on, oldest first."""
        topics = [Web3.keccak(text=event), HexBytes(topic1)]
        query = {"address": self.contract, "topics": topics, "fromBlock": from_block, "toBlock": "latest"}
        return self._call(lambda: [dict(lg) for lg in self.w3.eth.get_logs(query)])  # type: ignore[arg-type]

    def audit_trail(self, *, from_block: int = 0) -> list[dict[str, Any]]:
        """Everything written to the registry from block ``from_block`` on, decoded, oldest first: for each
        transaction to the contract its function and arguments, and for each of the contract's logs its event
        and arguments (bytes as hex, integers as ints). For audits (e.g. that only hashes, sizes, dates and
        counts went on chain); it reads every block, so keep the range short on a long chain."""
        def read() -> list[dict[str, Any]]:
            trail: list[dict[str, Any]] = []
            for number in range(from_block, int(self.w3.eth.block_number) + 1):
                block = self.w3.eth.get_block(number, full_transactions=True)
                for tx in block["transactions"]:
                    if isinstance(tx, Mapping) and str(tx.get("to") or "").lower() == self.contract.lower():
                        function, args = self._contract.decode_function_input(tx["input"])
                        trail.append({"block": number, "tx_hash": _hex(tx["hash"]), "function": function.fn_name,
                                      "args": _plain(args)})
            for log in self._contract.events.CheckpointAnchored().get_logs(from_block=from_block) + \
                    self._contract.events.DigestRecorded().get_logs(from_block=from_block):
                trail.append({"block": int(log["blockNumber"]), "tx_hash": _hex(log["transactionHash"]),
                              "event": log["event"], "args": _plain(dict(log["args"]))})
            return trail
        return self._call(read)

    # -- plumbing --------------------------------------------------------------------------------
    def _sign(self, key: OperatorKey, call: Any, nonce: int, fee_bump: int) -> SignedTx:
        with _translated(None):
            data = call._encode_transaction_data()
        fields = {"to": self.contract, "data": data, "gas": DEFAULT_GAS, "nonce": nonce}
        return self._call(lambda: _signed(self.w3, key, fields, chain_id=self.chain_id, fee_bump=fee_bump))

    def _call(self, fn: Callable[[], _T]) -> _T:
        with _translated(None):
            return fn()


def event_topic(signature: str) -> bytes:
    """Topic 0 of an event's logs: keccak-256 of its signature text, e.g. ``CHECKPOINT_EVENT``."""
    return bytes(Web3.keccak(text=signature))


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A web3 client of the JSON-RPC endpoint ``rpc_url`` (http or https) that fails fast, without
    web3's own retries: callers back off on ``EvmUnavailable`` themselves."""
    if not rpc_url.startswith(("http://", "https://")):
        raise ValueError(f"the regulator chain's JSON-RPC url must be http(s)://..., got {rpc_url!r}")
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


def _signed(w3: Web3, key: OperatorKey, fields: dict[str, Any], *, chain_id: int | None = None,
            fee_bump: int = 0) -> SignedTx:
    fees = {name: value * (100 + fee_bump) // 100 + (1 if fee_bump else 0) for name, value in _fees(w3).items()}
    tx = {"chainId": chain_id if chain_id is not None else int(w3.eth.chain_id), "value": 0, **fees, **fields}
    raw = key.sign(tx)
    return SignedTx("0x" + Web3.keccak(raw).hex().removeprefix("0x"), raw, key.address.lower(), int(fields["nonce"]))


def _fees(w3: Web3) -> dict[str, int]:
    base = w3.eth.get_block("latest").get("baseFeePerGas")
    if base is None:
        return {"gasPrice": int(w3.eth.gas_price)}
    tip = int(w3.eth.max_priority_fee)
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base) + tip}


@contextmanager
def _translated(tx_hash: str | None) -> Iterator[None]:
    """web3 and transport errors → ``EvmUnavailable`` / ``EvmTransactionError``, with the cause chained."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise EvmUnavailable(f"the EVM node does not answer: {exc}") from exc
    except ContractLogicError as exc:
        raise EvmTransactionError(f"the registry refused the call: {_reason(exc)}", tx_hash=tx_hash,
                                  reason=_reason(exc)) from exc
    except TimeExhausted as exc:
        raise EvmUnavailable(f"transaction {tx_hash} was not mined in time: {exc}") from exc
    except Web3RPCError as exc:
        message = str(exc.rpc_response.get("error", {}).get("message", exc)) if exc.rpc_response else str(exc)
        raise EvmTransactionError(f"the EVM node refused the request: {message}", tx_hash=tx_hash,
                                  reason=message) from exc
    except Web3Exception as exc:
        raise EvmUnavailable(f"the EVM node answered unexpectedly: {exc}") from exc


def _reason(exc: ContractLogicError) -> str:
    return str(exc.message or exc).removeprefix("execution reverted: ")


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _plain(args: dict[str, Any]) -> dict[str, Any]:
    return {k: ("0x" + bytes(v).hex() if isinstance(v, bytes | bytearray) else v) for k, v in args.items()}
