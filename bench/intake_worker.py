"""Per-event CPU of the intake worker, in-process: parse, check, canonical JSON, SM3, SM4-GCM seal, and the
result pickled back as the process pool does, for batch-signed and individually signed bodies.

    python -m bench.intake_worker [--events 2000] [--batch 500] [--rounds 5] [--profile]

"in 2 shares" is an individually signed body split as the intake pool splits a large one (the sum of both shares).

Prints µs per event (min and median over rounds), wall and CPU time, with SM2 verification counted apart.
Under a shared machine wall figures are noisy (CPU time less so): compare runs taken together, not against
old numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from evidence_api.services.events import EventIntake, parse_body
from evidence_api.services.keys import ActorKey
from ingest.signing import Actor, attest_batch, new_item, sign_item
from ledger.clock import Clock
from ledger.keystore import LocalKeyWrapper
from ledger.sm import Signer, SM2PrivateKey

TENANT = "bench-co"


class _Keys:
    """The one registered key (the registry's cache, without its database)."""

    def __init__(self, actor: Actor) -> None:
        self._key = ActorKey(TENANT, actor.key_id, actor.type, actor.id, actor.signer.public)

    def get(self, tenant: str, key_id: str) -> ActorKey:
        return self._key


def _items(actor: Actor, count: int) -> list[dict[str, Any]]:
    return [new_item(actor, tenant=TENANT, kind="detector.reading", subject={"permit": f"P-{i % 50}"},
                     payload={"lel_pct": 0.1, "o2_pct_vol": 20.9, "seq": i}, occurred_at="2026-11-23T08:00:00Z",
                     location={"lat": 30.2741, "lon": 120.1551, "accuracy_m": 3.5}) for i in range(count)]


def _bodies(actor: Actor, events: int, batch: int, signed: bool) -> list[bytes]:
    bodies = []
    for _ in range(0, events, batch):
        items = _items(actor, batch)
        if signed:
            bodies.append(orjson.dumps({"events": [sign_item(actor, item) for item in items]}))
        else:
            bodies.append(orjson.dumps({"events": items, "attestation": attest_batch(actor, TENANT, items)}))
    return bodies


def _round(intake: EventIntake, bodies: list[bytes], shares: int = 0) -> tuple[float, float]:
    """Wall and CPU seconds of preparing ``bodies`` (CPU time is what a shared machine's load disturbs least);
    with ``shares``, each body as that many shares (what ``IntakePool`` does with a large signed body: each
    share parses the whole body and prepares its slice)."""
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        if not shares:
            pickle.dumps(intake.prepare_packed(TENANT, parse_body(body)))  # what a worker sends back (plain tuples)
            continue
        stamp = Clock().stamp()
        for k in range(shares):
            pickle.dumps(intake.prepare_packed(TENANT, parse_body(body), share=(k, shares), received_at=stamp))
    return time.perf_counter() - start, time.process_time() - cpu


def _verify_cost(actor: Actor, n: int = 200) -> float:
    """CPU seconds of one SM2 verification."""
    message, signature = b"x" * 400, actor.signer.sign(b"x" * 400)
    start = time.process_time()
    for _ in range(n):
        actor.signer.public.verify(message, signature)
    return (time.process_time() - start) / n


def _measure(name: str, run: Callable[[], tuple[float, float]], events: int, rounds: int, sm2_per_event: float) -> None:
    walls, cpus = zip(*(run() for _ in range(rounds)), strict=True)
    wall, cpu = (sorted(t / events * 1e6 for t in times) for times in (walls, cpus))
    sm2 = sm2_per_event * 1e6
    print(f"{name:<22} {wall[0]:7.1f} µs/event min, {statistics.median(wall):7.1f} median; CPU {cpu[0]:7.1f} min, "
          f"{statistics.median(cpu):7.1f} median (SM2 verify {sm2:5.1f} CPU of it; the rest {cpu[0] - sm2:6.1f})")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one batch-signed round")
    args = parser.parse_args()
    actor = Actor("device", "detector-1", "detector-1#1", Signer.from_private_key(SM2PrivateKey.generate()))
    intake = EventIntake(_Keys(actor), LocalKeyWrapper(os.urandom(32)), max_batch=args.batch)  # type: ignore[arg-type]
    batch, single = _bodies(actor, args.events, args.batch, False), _bodies(actor, args.events, args.batch, True)
    verify = _verify_cost(actor)
    _round(intake, batch[:1])  # warm
    _measure("batch-signed", lambda: _round(intake, batch), args.events, args.rounds, verify / args.batch)
    _measure("individually signed", lambda: _round(intake, single), args.events, args.rounds, verify)
    _measure("  in 2 shares", lambda: _round(intake, single, 2), args.events, args.rounds, verify)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(_round, intake, batch)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
