"""One operator account's transactions on the registry: nonces, sending, and what became of each.

Shared by the anchor backend and the digest recorder of a process, so their transactions never take the
same nonce: ``next_nonce`` hands each nonce out once (a reservation), even to two callers that both sign
before either sends. Nonces survive restarts because none is kept only here: each new transaction takes the
larger of the chain's ``pending`` count for the account and one past the last nonce this process handed
out or sent; a transaction persisted before a restart is sent again unchanged (same nonce, same hash), and
one whose nonce the chain gave to another transaction is reported as superseded, so its caller prepares anew.

A nonce handed out but never sent (its caller failed between signing and sending, or gave up) would leave a
gap that stops every later transaction of the account. So a reservation not sent within ``reclaim_after``
seconds is handed out again, lowest first; should the first holder send after all, one of the two is
superseded and prepared anew, as above.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ledger.errors import EvmTransactionError
from ledger.evm.operator import OperatorKey
from ledger.evm.registry import Registry, SignedTx

__all__ = ["Transactor"]


class Transactor:
    """Transactions of ``key`` on ``registry``; a receipt counts once ``confirmations`` blocks hold it
    (1: mined; more on a chain that can reorganise). ``reclaim_after`` (seconds of ``clock``) is how long
    a nonce handed out by ``next_nonce`` stays reserved without being sent."""

    def __init__(self, registry: Registry, key: OperatorKey, *, confirmations: int = 1,
                 reclaim_after: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        if confirmations < 1:
            raise ValueError(f"confirmations must be at least 1, got {confirmations}")
        self.registry, self.key, self.confirmations = registry, key, confirmations
        self._reclaim_after, self._clock = reclaim_after, clock
        self._lock = threading.Lock()
        self._next = 0  # one past the highest nonce this process handed out or sent
        self._reserved: dict[int, float] = {}  # nonce handed out, not yet sent → when
        self._dropped: dict[int, int] = {}  # nonce → how often a transaction of it was dropped

    def next_nonce(self) -> int:
        """Reserve the nonce for a new transaction: no other caller gets it until ``reclaim_after`` has
        passed without it being sent (reads the chain: ``EvmUnavailable`` when it is down)."""
        chain = self.registry.nonce(self.key.address, "pending")
        with self._lock:
            now = self._clock()
            for nonce in [n for n in self._reserved if n < chain]:
                del self._reserved[nonce]  # the chain has a transaction of it: nothing left to reclaim
            stale = [n for n, at in self._reserved.items() if now - at >= self._reclaim_after]
            if stale:
                nonce = min(stale)
            else:
                nonce = max(chain, self._next)
                while nonce in self._reserved:  # a dropped transaction freed a nonce below a reserved one
                    nonce += 1
            self._reserved[nonce] = now
            self._next = max(self._next, nonce + 1)
            return nonce

    def fee_bump(self, nonce: int) -> int:
        """Percent to raise the fees of a new transaction of ``nonce`` by: 0, or 12 per transaction of that
        nonce the node dropped (so the new one differs, and replaces the old one wherever it still is)."""
        with self._lock:
            return 12 * self._dropped.get(nonce, 0)

    def send(self, tx: SignedTx) -> None:
        """Send ``tx`` (idempotent); raises ``EvmUnavailable`` or ``EvmTransactionError`` (refused for good)."""
        self.registry.send(tx)
        with self._lock:
            self._reserved.pop(tx.nonce, None)
            self._next = max(self._next, tx.nonce + 1)

    def outcome(self, tx: SignedTx) -> dict[str, Any] | None:
        """The receipt of ``tx`` once it is mined with success and confirmed; None while it is in flight.

        Raises ``EvmTransactionError`` when it never will be: it reverted (``reason`` is the contract's),
        its nonce went to another transaction (superseded), or the node no longer knows it (dropped).
        Raises ``EvmUnavailable`` when the node cannot be read.
        """
        receipt = self.registry.receipt(tx.tx_hash)
        if receipt is None:
            self._require_in_flight(tx)
            return None
        if int(receipt["status"]) != 1:
            reason = self.registry.revert_reason(receipt)
            raise EvmTransactionError(f"transaction {tx.tx_hash} reverted in block {receipt['blockNumber']}: {reason}",
                                      tx_hash=tx.tx_hash, reason=reason)
        if self.registry.block_number() - int(receipt["blockNumber"]) + 1 < self.confirmations:
            return None
        return receipt

    def _require_in_flight(self, tx: SignedTx) -> None:
        if self.registry.known(tx.tx_hash):
            return
        if self.registry.nonce(tx.sender, "latest") > tx.nonce:
            reason = f"superseded: nonce {tx.nonce} of {tx.sender} was taken by another transaction"
        else:
            reason = "dropped: the node no longer has it (restarted without its pool?); prepare it anew"
            with self._lock:  # its nonce is free again: the next transaction takes it, leaving no gap
                self._next = min(self._next, tx.nonce)
                self._dropped[tx.nonce] = self._dropped.get(tx.nonce, 0) + 1
        raise EvmTransactionError(f"transaction {tx.tx_hash} will not be mined: {reason}", tx_hash=tx.tx_hash,
                                  reason=reason)
