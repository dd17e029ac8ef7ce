"""The digest API for the daily job (``ledger.evm.digests``) on a real anvil: staged, persisted, once per date."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.errors import EvmTransactionError
from ledger.evm import (
    DigestReceipt,
    DigestRecorder,
    OperatorKey,
    PendingDigest,
    Registry,
    Transactor,
    tenant_hash,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.evm

TENANT = tenant_hash("acme-chem")
DAY = date(2026, 12, 1)


def test_digest_prepare_persist_submit_status(registry: Registry, operator: OperatorKey) -> None:
    recorder = DigestRecorder(Transactor(registry, operator))
    pending = recorder.prepare(TENANT, DAY, b"\x55" * 32)
    stored = PendingDigest.from_json(pending.to_json())  # what the job keeps before submit
    assert stored == pending and stored.tx_hash.startswith("0x")

    restarted = DigestRecorder(Transactor(registry, operator))  # a new process sends the stored one
    restarted.submit(stored)
    restarted.submit(stored)  # idempotent
    # anvil can serve the receipt a moment after the send returns: wait for it with a deadline
    receipt = wait_until(lambda: restarted.status(stored), timeout=30)

    assert isinstance(receipt, DigestReceipt) and receipt.tx_hash == pending.tx_hash
    body = receipt.to_json()
    assert (body["backend"], body["tenant_hash"], body["date"], body["digest"]) == (
        "evm", TENANT.hex(), "2026-12-01", "55" * 32)
    assert body["log"]["topics"][1] == "0x" + TENANT.hex() and body["block_header"]["number"] == hex(body["block_number"])
    assert recorder.recorded(TENANT, DAY) == b"\x55" * 32 and recorder.recorded(TENANT, date(2026, 12, 2)) is None


def test_digest_second_for_the_same_date_is_reverted(registry: Registry, operator: OperatorKey) -> None:
    recorder = DigestRecorder(Transactor(registry, operator))
    first = recorder.record_digest(TENANT, DAY, b"\x55" * 32, wait=10)
    assert isinstance(first, DigestReceipt)

    with pytest.raises(EvmTransactionError, match="EvidenceRegistry: digest already recorded for this date"):
        recorder.record_digest(TENANT, DAY, b"\x66" * 32, wait=10)
    assert recorder.recorded(TENANT, DAY) == b"\x55" * 32


@pytest.mark.parametrize(("tenant", "digest", "day", "match"), [
    (b"\x01" * 31, b"\x55" * 32, DAY, "32 bytes each"),
    (TENANT, bytes(32), DAY, "not all zero"),
    (TENANT, b"\x55" * 32, date(1969, 12, 31), "from 1970-01-01 on"),
])
def test_digest_prepare_refuses_bad_arguments(registry: Registry, operator: OperatorKey, tenant: bytes,
                                              digest: bytes, day: date, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DigestRecorder(Transactor(registry, operator)).prepare(tenant, day, digest)
