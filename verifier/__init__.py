"""Tiezheng's independent offline verifier: bundles, checkpoints, Merkle proofs, local and EVM anchors,
checked against a caller's trust root.

It imports only the standard library and crypto libraries, never ``ledger``, ``evidence_api``, ``ingest``
or a database, and re-implements what it checks from docs/formats.md (RFC 9162 over SM3, C2SP
checkpoints, RFC 8785), so that a bug in the server's code cannot hide itself from the verifier.

Typical use::

    report = verify_bundle(Bundle.from_bytes(data), trust_root=TrustRoot.from_file("trust-root.json"))
"""

from verifier.anchors import (
    JournalEntry,
    LocalAnchor,
    read_journal,
    verify_journal,
    verify_journal_entry,
    verify_local_anchor,
)
from verifier.bundle import BUNDLE_FORMAT, Bundle, verify_bundle
from verifier.checkpoint import Checkpoint, NoteSignature, key_hash, verify_checkpoint
from verifier.errors import (
    AnchorMismatch,
    AttestationMismatch,
    BadSignature,
    ChainMismatch,
    CheckUnavailable,
    CommitmentMismatch,
    InvalidProof,
    KeyMismatch,
    MalformedInput,
    RootMismatch,
    UntrustedLog,
    VerificationFailed,
    VerifierError,
)
from verifier.events import (
    Attestation,
    Event,
    Payload,
    actor_key_binding,
    claim,
    claim_hash,
    event_leaf_hash,
    verify_actor_signature,
    verify_attestation,
    verify_payload_commitment,
)
from verifier.evm import EvmAnchor, EvmDigestReceipt, verify_evm_anchor, verify_evm_digest
from verifier.hashing import HASH_SIZE, empty_root, leaf_hash, node_hash
from verifier.merkle import (
    consistency_proof_length,
    inclusion_proof_length,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from verifier.report import (
    ASSURANCE_DUAL_CHAIN,
    ASSURANCE_FABRIC,
    ASSURANCE_SIGNED,
    Report,
    StepResult,
    chain_assurance,
)
from verifier.sm import DEFAULT_SIGNER_ID, PublicKey, sm3, verify_sm2
from verifier.trust import (
    TRUST_ROOT_TYPE,
    FabricNetwork,
    FabricOrg,
    LogKey,
    RegulatorChain,
    TimestampAuthority,
    TrustRoot,
    Witnesses,
    WitnessKey,
)

__all__ = [
    "ASSURANCE_DUAL_CHAIN",
    "ASSURANCE_FABRIC",
    "ASSURANCE_SIGNED",
    "BUNDLE_FORMAT",
    "DEFAULT_SIGNER_ID",
    "HASH_SIZE",
    "TRUST_ROOT_TYPE",
    "AnchorMismatch",
    "Attestation",
    "AttestationMismatch",
    "BadSignature",
    "Bundle",
    "ChainMismatch",
    "CheckUnavailable",
    "Checkpoint",
    "CommitmentMismatch",
    "Event",
    "EvmAnchor",
    "EvmDigestReceipt",
    "FabricNetwork",
    "FabricOrg",
    "InvalidProof",
    "JournalEntry",
    "KeyMismatch",
    "LocalAnchor",
    "LogKey",
    "MalformedInput",
    "NoteSignature",
    "Payload",
    "PublicKey",
    "RegulatorChain",
    "Report",
    "RootMismatch",
    "StepResult",
    "TimestampAuthority",
    "TrustRoot",
    "UntrustedLog",
    "VerificationFailed",
    "VerifierError",
    "WitnessKey",
    "Witnesses",
    "actor_key_binding",
    "chain_assurance",
    "claim",
    "claim_hash",
    "consistency_proof_length",
    "empty_root",
    "event_leaf_hash",
    "inclusion_proof_length",
    "key_hash",
    "leaf_hash",
    "node_hash",
    "read_journal",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "sm3",
    "verify_actor_signature",
    "verify_attestation",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_evm_anchor",
    "verify_evm_digest",
    "verify_inclusion",
    "verify_journal",
    "verify_journal_entry",
    "verify_local_anchor",
    "verify_payload_commitment",
    "verify_sm2",
]
