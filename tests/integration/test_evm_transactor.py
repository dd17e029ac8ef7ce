"""Nonces of one operator account shared by the anchor backend and the digest recorder, on a real anvil:
each nonce is handed out once even when both sign before either sends, and a nonce handed out but never
sent is handed out again after ``reclaim_after``, so it cannot stop the account's later transactions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.evm import OperatorKey, Registry, SignedTx, Transactor, origin_hash, tenant_hash
from tests.helpers import wait_until

pytestmark = pytest.mark.evm

ORIGIN = origin_hash("test.tiezheng/log")


class _Clock:
    """Seconds that move only when the test says so (``Transactor``'s ``clock``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _anchor(registry: Registry, transactor: Transactor, size: int) -> SignedTx:
    nonce = transactor.next_nonce()
    return registry.sign_anchor(transactor.key, ORIGIN, size, bytes([size]) * 32, nonce=nonce)


def _digest(registry: Registry, transactor: Transactor, day: int) -> SignedTx:
    nonce = transactor.next_nonce()
    return registry.sign_digest(transactor.key, tenant_hash("acme-chem"), date(2026, 12, day), b"\x55" * 32, nonce=nonce)


def _mined(transactor: Transactor, tx: SignedTx) -> dict[str, Any]:
    # anvil mines on arrival, but its receipt may be served a moment after the send returns
    receipt: dict[str, Any] = wait_until(lambda: transactor.outcome(tx))
    return receipt


def test_two_writers_signing_before_either_sends_get_different_nonces(registry: Registry,
                                                                      operator: OperatorKey) -> None:
    """The anchor backend and the digest job of one process both prepare, then both send: both are mined
    (they used to take the same nonce, and one was refused with "nonce too low")."""
    transactor = Transactor(registry, operator)
    anchor, digest = _anchor(registry, transactor, 4), _digest(registry, transactor, 1)

    assert digest.nonce == anchor.nonce + 1
    transactor.send(digest)  # sent in the other order: anvil queues the later nonce until the gap is filled
    transactor.send(anchor)
    assert _mined(transactor, anchor)["status"] == 1 and _mined(transactor, digest)["status"] == 1
    assert registry.latest_checkpoint(ORIGIN) == (4, bytes([4]) * 32)


def test_a_nonce_handed_out_but_never_sent_is_reclaimed(registry: Registry, operator: OperatorKey) -> None:
    clock = _Clock()
    transactor = Transactor(registry, operator, reclaim_after=60, clock=clock)
    _abandoned = _anchor(registry, transactor, 4)  # its caller failed before sending it
    later = _digest(registry, transactor, 1)
    transactor.send(later)
    assert transactor.outcome(later) is None  # stuck behind the gap the abandoned nonce left

    clock.now += 59
    assert _anchor(registry, transactor, 5).nonce == later.nonce + 1  # still reserved, not yet reclaimed
    clock.now += 1
    refill = _anchor(registry, transactor, 6)
    assert refill.nonce == _abandoned.nonce
    transactor.send(refill)
    assert _mined(transactor, refill)["status"] == 1
    assert _mined(transactor, later)["status"] == 1  # the gap is filled, the stuck one is mined too


def test_a_reservation_the_chain_already_has_is_not_reclaimed(registry: Registry, operator: OperatorKey) -> None:
    """A nonce handed out by this process but sent by another one (same key) is the chain's: after
    ``reclaim_after`` the next nonce is the chain's count, not the stale reservation."""
    clock = _Clock()
    mine, other = Transactor(registry, operator, reclaim_after=60, clock=clock), Transactor(registry, operator)
    reserved = _anchor(registry, mine, 4)
    sent = _digest(registry, other, 1)
    assert sent.nonce == reserved.nonce
    other.send(sent)
    _mined(other, sent)

    clock.now += 120
    assert mine.next_nonce() == sent.nonce + 1
