"""Public-key recovery on secp256k1 (SEC 2 §2.4.1; SEC 1 §4.1.6), for the sender of an EVM transaction.

An Ethereum transaction carries no public key: its sender is the address of the key that ``(r, s,
recovery id)`` recovers from the signing hash. ``cryptography`` verifies secp256k1 ECDSA but does not
recover keys, so the few lines of curve arithmetic needed are written here, in affine coordinates with
Python integers. Only public data goes through them (no secret, so no constant-time concern).
"""

from __future__ import annotations

__all__ = ["N", "recover_public_key"]

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of the curve's base point."""
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
_Point = tuple[int, int] | None  # None: the point at infinity


def _add(a: _Point, b: _Point) -> _Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        slope = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (slope * slope - a[0] - b[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


def _multiply(k: int, point: _Point) -> _Point:
    result: _Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point, k = _add(point, point), k >> 1
    return result


def recover_public_key(digest: bytes, r: int, s: int, recovery_id: int) -> bytes | None:
    """The 64-byte public key (X || Y) whose ECDSA signature ``(r, s)`` over the 32-byte ``digest`` has
    ``recovery_id`` (0 or 1: the parity of R's y), or None when none does. Requires 0 < r, s < N; high-s
    signatures (s > N/2), which Ethereum refuses since EIP-2, give None too."""
    if not (0 < r < N and 0 < s <= N // 2 and recovery_id in (0, 1) and len(digest) == 32):
        return None
    y_squared = (pow(r, 3, P) + 7) % P
    y = pow(y_squared, (P + 1) // 4, P)
    if y * y % P != y_squared:
        return None
    if y & 1 != recovery_id:
        y = P - y
    e = int.from_bytes(digest, "big") % N
    r_inverse = pow(r, -1, N)
    point = _add(_multiply(s * r_inverse % N, (r, y)), _multiply(-e * r_inverse % N, _G))
    if point is None:
        return None
    return point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")
