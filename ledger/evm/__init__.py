"""The regulator chain: the registry contract's client (deploy, write, read), operator keys, nonces, and
daily digests on the staged pattern. The ``evm`` anchor backend is ``ledger.anchors.evm``."""

from ledger.evm import _web3  # noqa: F401  (first: imports web3 with the recursion limit kept)
from ledger.evm.abi import CHECKPOINT_EVENT, DIGEST_EVENT, REGISTRY_ABI, date_number, origin_hash, tenant_hash
from ledger.evm.artifact import DEFAULT_ARTIFACT, Artifact
from ledger.evm.digests import DigestReceipt, DigestRecorder, PendingDigest
from ledger.evm.operator import OperatorKey
from ledger.evm.registry import Deployment, Registry, SignedTx, event_topic
from ledger.evm.transactor import Transactor

__all__ = [
    "CHECKPOINT_EVENT",
    "DEFAULT_ARTIFACT",
    "DIGEST_EVENT",
    "REGISTRY_ABI",
    "Artifact",
    "Deployment",
    "DigestReceipt",
    "DigestRecorder",
    "OperatorKey",
    "PendingDigest",
    "Registry",
    "SignedTx",
    "Transactor",
    "date_number",
    "event_topic",
    "origin_hash",
    "tenant_hash",
]
