"""The Python verifier on the captured two-chain pack (``tests/vectors/chainpack``, Fabric and anvil blocks),
offline: ``dual-chain`` with both chains trusted, ``fabric`` with the Fabric orgs alone; and what a pack's
chain receipt may not carry (bundle fields, a second spelling of hex or of a quantity), refused as
``anchor-<kind>`` as verify.html refuses it (verifier/web/test/chainpack.test.js)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.canonical import canonical
from tests.tamper.chain import chain_source
from tests.tamper.packs import resign
from tests.tamper.zipraw import entries_of
from verifier.errors import MalformedInput
from verifier.evm_fields import parse_receipt
from verifier.pack import verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable
from verifier.trust import TrustRoot

SOURCE, ROOT = chain_source()


def _root(**changes: Any) -> TrustRoot:
    return TrustRoot.from_bytes(json.dumps({**ROOT, **changes}).encode())


def _lying(kind: str, change: Any) -> bytes:
    files = entries_of(SOURCE.data)
    envelope = json.loads(files[f"anchors/{kind}.json"])
    change(envelope["receipts"][0])
    files[f"anchors/{kind}.json"] = canonical(envelope)
    return resign(files, SOURCE.signer)


def test_two_chain_pack_is_dual_chain_offline() -> None:
    report = verify_pack(SOURCE.data, trust_root=_root())
    assert report.assurance == "dual-chain"
    assert {o.kind: o.status for o in report.anchors} == {"fabric": "verified", "evm": "verified", "local": "verified"}
    assert verify_pack(SOURCE.data, trust_root=_root(regulator_chains=[])).assurance == "fabric"
    assert verify_pack(SOURCE.data, trust_root=_root(fabric=None)).assurance == "signed"


@pytest.mark.parametrize(("kind", "change", "match"), [
    ("fabric", lambda r: r.update(backend="fabric"), "fabric receipt has unknown field 'backend'"),
    ("evm", lambda r: r.update(backend="evm"), "evm receipt has unknown field 'backend'"),
    ("evm", lambda r: r.update(consistency_proof=[]), "evm receipt has unknown field 'consistency_proof'"),
    ("evm", lambda r: r.update(block_hash=r["block_hash"][:10] + " " + r["block_hash"][11:]),
     "block_hash must be 0x and lower-case hex bytes"),
], ids=["fabric backend", "evm backend", "evm consistency_proof", "evm hex with a space"])
def test_lying_service_chain_receipt_is_refused_as_its_kind(kind: str, change: Any, match: str) -> None:
    with pytest.raises((PackInvalid, PackUnusable)) as refused:
        verify_pack(_lying(kind, change), trust_root=_root())
    assert refused.value.reason == f"anchor-{kind}"
    assert match in refused.value.message


@pytest.mark.parametrize("spelling", ["0x1_0", "0x+1", "0x 1", "0x1 "])
def test_evm_quantity_has_one_spelling(spelling: str) -> None:
    receipt = {"type": "0x2", "status": "0x1", "cumulativeGasUsed": spelling, "logsBloom": "0x" + "00" * 256, "logs": []}
    with pytest.raises(MalformedInput, match="cumulativeGasUsed must be a minimal 0x hex quantity"):
        parse_receipt(receipt, "receipt")
