"""The public face of the log: checkpoint, key, proofs, anchors. Open to anyone: they reveal only hashes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from evidence_api.deps import ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.log import (
    AnchorsOut,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    PublicKeyOut,
)
from evidence_api.services.errors import NotFound

router = APIRouter(prefix="/v1/log", tags=["log"], route_class=StrictRoute)

_Size = Annotated[int, Query(ge=0, le=2**56)]


@router.get("/checkpoint", responses=problems(404))
def checkpoint(services: ServicesDep) -> CheckpointOut:
    """The newest signed checkpoint (C2SP tlog-checkpoint text)."""
    latest = services.log.latest_checkpoint()
    if latest is None:
        raise NotFound("the log is empty: no checkpoint yet")
    cp = latest.checkpoint
    return CheckpointOut(origin=cp.origin, tree_size=cp.tree_size, root_hash=cp.root_hash.hex(), text=latest.text)


@router.get("/public-key")
def public_key(services: ServicesDep) -> PublicKeyOut:
    """The SM2 key that signs checkpoints and the local anchor journal."""
    public = services.log.signer.public
    return PublicKeyOut(origin=services.log.origin, public_key_pem=public.to_pem(), fingerprint=public.fingerprint())


@router.get("/proofs/inclusion", responses=problems(400))
def inclusion(leaf_index: _Size, tree_size: _Size, services: ServicesDep) -> InclusionProofOut:
    """RFC 9162 inclusion proof of a leaf in a tree size."""
    leaf, root, proof = services.log.prove_inclusion(leaf_index, tree_size)
    return InclusionProofOut(leaf_index=leaf_index, tree_size=tree_size, leaf_hash=leaf.hex(), root_hash=root.hex(),
                             proof=[h.hex() for h in proof])


@router.get("/proofs/consistency", responses=problems(400))
def consistency(first: _Size, second: _Size, services: ServicesDep) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between two tree sizes."""
    proof = services.log.consistency_proof(first, second)
    return ConsistencyProofOut(first=first, second=second, first_root=services.log.root_at(first).hex(),
                               second_root=services.log.root_at(second).hex(), proof=[h.hex() for h in proof])


@router.get("/anchors")
def anchors(tree_size: _Size, services: ServicesDep) -> AnchorsOut:
    """For each backend, the first anchor of a tree at least ``tree_size`` big, with the proof linking them."""
    return AnchorsOut(tree_size=tree_size, anchors=services.log.anchors_covering(tree_size))
