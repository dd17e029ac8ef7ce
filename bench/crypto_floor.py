"""The cryptographic floor of batch-signed intake: what the primitives every event needs cost on one core,
with the service's own primitives (ledger.sm, ledger.keystore, ledger.hashing), and with no Python around
them but the calls themselves.

Per event intake must: hash the claim (SM3 over its canonical bytes), check the payload commitment (SM3),
seal the payload under a fresh data key and wrap that key (two SM4-GCM encryptions), hash the leaf (SM3),
and hash about one Merkle node (SM3 of two children). Whatever else intake does is Python and storage; this
is the part no implementation can avoid, so (cores ÷ this) bounds any intake on this machine.

    python -m bench.crypto_floor [--events 20000] [--rounds 5] [--immudb-rate 55000]

Prints µs per event per primitive (median over rounds) and the bound on 2 cores, and, with
``--immudb-rate``, the share of immudb's paired rate that the primitives alone leave for everything else.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from ledger.hashing import leaf_hash, node_hash
from ledger.keystore import LocalKeyWrapper, seal
from ledger.sm import sm3

CLAIM, PAYLOAD, LEAF = 420, 96, 580  # bytes of a bench detector reading (bench.intake): claim, payload, leaf


def _per_event(step: Callable[[int], object], events: int, rounds: int) -> float:
    """Median µs per call of ``step`` over ``rounds`` rounds of ``events`` calls."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(events):
            step(i)
        times.append((time.perf_counter() - started) / events * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--immudb-rate", type=float, help="immudb's verified entries/s from bench.intake --against immudb")
    args = parser.parse_args()
    wrapper = LocalKeyWrapper(os.urandom(32))
    claims = [os.urandom(CLAIM) for _ in range(64)]
    payloads = [os.urandom(PAYLOAD) for _ in range(64)]
    leaves = [os.urandom(LEAF) for _ in range(64)]
    left, right = os.urandom(32), os.urandom(32)
    steps: dict[str, Callable[[int], object]] = {
        "SM3 claim": lambda i: sm3(claims[i & 63]),
        "SM3 commitment": lambda i: sm3(payloads[i & 63]),
        "seal (SM4-GCM payload + key wrap)": lambda i: seal(wrapper, "t", payloads[i & 63], context=b"t|id"),
        "SM3 leaf": lambda i: leaf_hash(leaves[i & 63]),
        "SM3 Merkle node": lambda i: node_hash(left, right),
    }
    print(f"per event, one core, median of {args.rounds} rounds of {args.events:,} [load {os.getloadavg()[0]:.2f}]")
    total = 0.0
    for name, step in steps.items():
        cost = _per_event(step, args.events, args.rounds)
        total += cost
        print(f"  {name:<36} {cost:6.2f} µs")
    bound = args.cores / total * 1e6
    print(f"  {'all primitives':<36} {total:6.2f} µs  →  at most {bound:,.0f} events/s on {args.cores} cores")
    if args.immudb_rate:
        left_us = args.cores / args.immudb_rate * 1e6 - total
        print(f"  to match immudb's {args.immudb_rate:,.0f}/s, everything else (HTTP, JSON, checks, storage, "
              f"receipts) must fit in {left_us:.1f} µs of CPU per event")


if __name__ == "__main__":
    main()
