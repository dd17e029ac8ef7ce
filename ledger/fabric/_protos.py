"""The Fabric protobuf modules (``hyperledger-fabric-protos``) and grpc, imported once.

The generated modules build their classes at run time, which static typing cannot see, so they are handed
to the rest of the package as ``Any``; every message the client builds goes through ``messages.py``.
"""

from __future__ import annotations

import importlib
from typing import Any


def _load(name: str) -> Any:
    return importlib.import_module(name)


common: Any = _load("fabric_protos.common.common_pb2")
identities: Any = _load("fabric_protos.msp.identities_pb2")
chaincode: Any = _load("fabric_protos.peer.chaincode_pb2")
proposal: Any = _load("fabric_protos.peer.proposal_pb2")
proposal_response: Any = _load("fabric_protos.peer.proposal_response_pb2")
transaction: Any = _load("fabric_protos.peer.transaction_pb2")
events: Any = _load("fabric_protos.peer.events_pb2")
events_grpc: Any = _load("fabric_protos.peer.events_pb2_grpc")
peer_grpc: Any = _load("fabric_protos.peer.peer_pb2_grpc")
ab: Any = _load("fabric_protos.orderer.ab_pb2")
ab_grpc: Any = _load("fabric_protos.orderer.ab_pb2_grpc")
grpc: Any = _load("grpc")
