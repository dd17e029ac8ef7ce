"""A C2SP tlog-witness for a Tiezheng log (``tiezheng witness serve``), run by a third party with its own key."""

from evidence_api.witness.server import WitnessServer, load_or_create_key
from evidence_api.witness.state import WitnessState

__all__ = ["WitnessServer", "WitnessState", "load_or_create_key"]
