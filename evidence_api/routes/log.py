"""The public face of the log: checkpoint, key, proofs, anchors. Open to anyone: they reveal only hashes."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

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
from ledger.log import TransparencyLog

router = APIRouter(prefix="/v1/log", tags=["log"], route_class=StrictRoute)

MAX_SIZE = 2**56
_Size = Annotated[int, Query(ge=0, le=MAX_SIZE)]


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


# The two proof routes are the log's hot reads: they answer the bytes FastAPI would make of their response
# model (compact JSON, fields in model order), written by orjson without validating the model again; the
# model still documents them (tests/api/test_log_proof_routes.py compares both encodings). A well-formed
# request is answered by ``evidence_api.proof_path`` before routing, with the same body functions.
@router.get("/proofs/inclusion", responses=problems(400), response_model=InclusionProofOut)
def inclusion(leaf_index: _Size, tree_size: _Size, services: ServicesDep) -> Response:
    """RFC 9162 inclusion proof of a leaf in a tree size."""
    return _json(inclusion_body(services.log, leaf_index, tree_size))


@router.get("/proofs/consistency", responses=problems(400), response_model=ConsistencyProofOut)
def consistency(first: _Size, second: _Size, services: ServicesDep) -> Response:
    """RFC 9162 consistency proof between two tree sizes."""
    return _json(consistency_body(services.log, first, second))


def inclusion_body(log: TransparencyLog, leaf_index: int, tree_size: int) -> bytes:
    """The JSON body of ``InclusionProofOut`` for ``leaf_index`` in ``tree_size``; raises ``ProofError``."""
    leaf, root, proof = log.prove_inclusion(leaf_index, tree_size)
    return orjson.dumps({"leaf_index": leaf_index, "tree_size": tree_size, "leaf_hash": leaf.hex(),
                         "root_hash": root.hex(), "proof": [h.hex() for h in proof]})


def consistency_body(log: TransparencyLog, first: int, second: int) -> bytes:
    """The JSON body of ``ConsistencyProofOut`` from ``first`` to ``second``; raises ``ProofError``."""
    first_root, second_root, proof = log.prove_consistency(first, second)
    return orjson.dumps({"first": first, "second": second, "first_root": first_root.hex(),
                         "second_root": second_root.hex(), "proof": [h.hex() for h in proof]})


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@router.get("/anchors")
def anchors(tree_size: _Size, services: ServicesDep) -> AnchorsOut:
    """For each backend, the first anchor of a tree at least ``tree_size`` big, with the proof linking them."""
    return AnchorsOut(tree_size=tree_size, anchors=services.log.anchors_covering(tree_size))
