"""The Fabric protobuf message classes the verifier parses blocks with (``hyperledger-fabric-protos``).

A format library, as ``json`` is for bundles: it only turns bytes into messages; every check on them is the
verifier's own (``verifier.fabric_block``, ``verifier.fabric``). The generated modules build their classes
at run time, which static typing cannot see, so they are handed on as ``Any``.
"""

from __future__ import annotations

import importlib
from typing import Any

common: Any = importlib.import_module("fabric_protos.common.common_pb2")
identities: Any = importlib.import_module("fabric_protos.msp.identities_pb2")
proposal: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")
proposal_response: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")
transaction: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")
rwset: Any = importlib.import_module("fabric_protos.ledger.rwset.rwset_pb2")
kv_rwset: Any = importlib.import_module("fabric_protos.ledger.rwset.kvrwset.kv_rwset_pb2")
