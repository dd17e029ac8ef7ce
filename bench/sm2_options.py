"""Benchmark the SM2 (and SM3/canonical) options on this machine; prints figures and ratios.

Run: .venv/bin/python bench/sm2_options.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gmssl_pyx
import rfc8785
from gmssl import sm2 as pure_sm2

from ledger.canonical import canonical
from ledger.sm import SM2PrivateKey, sm3


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    message = b"x" * 400
    key = SM2PrivateKey.generate()
    signature = key.sign(message)
    pure = pure_sm2.CryptSM2(private_key=key.scalar.hex(), public_key=key.public.point.hex())
    pure_sig = pure.sign_with_sm3(message)
    rows = {
        "gmssl-pyx sign": per_call(lambda: key.sign(message), 300),
        "gmssl-pyx verify": per_call(lambda: key.public.verify(message, signature), 300),
        "gmssl (pure Python) sign": per_call(lambda: pure.sign_with_sm3(message), 20),
        "gmssl (pure Python) verify": per_call(lambda: pure.verify_with_sm3(pure_sig, message), 20),
    }
    for name, seconds in rows.items():
        print(f"{name:32s} {seconds * 1e3:8.3f} ms")
    print(f"verify speed-up gmssl-pyx over pure Python: {rows['gmssl (pure Python) verify'] / rows['gmssl-pyx verify']:.0f}x")
    event = {"v": 1, "event_id": "0b9f3f0e-5d2a-4f0e-8a55-0c8f6d0e8a11", "tenant": "acme", "kind": "detector.reading",
             "subject": {"permit": "P-1"}, "actor": {"type": "device", "id": "d-7", "key_id": "d-7#1"},
             "occurred_at": "2026-11-23T10:00:00.123Z", "location": {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 3.5},
             "payload_commitment": "ab" * 32, "prev": "cd" * 32}
    fast, reference = per_call(lambda: canonical(event), 20000), per_call(lambda: rfc8785.dumps(event), 20000)
    print(f"canonical (fast path) {fast * 1e6:6.2f} us, rfc8785 {reference * 1e6:6.2f} us: {reference / fast:.1f}x")
    print(f"sm3 of 400 bytes {per_call(lambda: sm3(message), 20000) * 1e6:6.2f} us "
          f"(gmssl-pyx {per_call(lambda: gmssl_pyx.sm3_hash(message), 20000) * 1e6:.2f} us)")


if __name__ == "__main__":
    main()
