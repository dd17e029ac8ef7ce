"""Tiezheng's ledger: canonical events, SM2/SM3/SM4, the RFC 9162 Merkle log, checkpoints and anchors."""

__all__: list[str] = []
