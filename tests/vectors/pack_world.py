"""A small real world for building packs without the HTTP service: a migrated SQLite log, a local anchor
journal, registered actor keys, real intake (signatures, batch attestations, sealed payloads) and media.

Used by the golden-vector generator, the tamper suite, the pack tests and ``bench/packs.py``.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evidence_api.db import migrate
from evidence_api.services.events import EventIntake
from evidence_api.services.keys import KeyRegistry
from evidence_api.services.pack_media import StoredMedia
from evidence_api.services.pack_report import ReportRenderer
from evidence_api.services.pack_scope import LogScopes
from evidence_api.services.packs import PackBuilder
from ingest.signing import Actor, attest_batch, new_item, sign_item
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import Anchor
from ledger.anchors.local import LocalJournal
from ledger.clock import ManualClock
from ledger.database import make_engine
from ledger.keystore import LocalKeyWrapper
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey, sm3

__all__ = ["ORIGIN", "TENANT", "World", "open_world"]

ORIGIN = "vectors.tiezheng/log"
TENANT = "acme-chem"


@dataclass
class World:
    """The running log and everything needed to log evidence into it and build packs of it."""

    log: TransparencyLog
    anchorer: Anchorer
    intake: EventIntake
    keys: KeyRegistry
    builder: PackBuilder
    clock: ManualClock
    log_key: SM2PrivateKey
    media: dict[tuple[str, str], bytes] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    def actor(self, actor_id: str, kind: str = "user") -> Actor:
        """The actor ``actor_id`` with a registered key (made on first use)."""
        if actor_id not in self.actors:
            actor = Actor(kind, actor_id, f"{actor_id}#1", Signer.from_private_key(SM2PrivateKey.generate()))
            self.keys.register(TENANT, actor.key_id, kind, actor_id, actor.signer.public.to_pem())
            self.actors[actor_id] = actor
        return self.actors[actor_id]

    def log_events(self, items: list[dict[str, Any]], attestation: dict[str, Any] | None = None) -> None:
        """Submit one intake batch (signed items, or unsigned items with their attestation) and wait."""
        body: dict[str, Any] = {"events": items}
        if attestation is not None:
            body["attestation"] = attestation
        self.log.submit(self.intake.prepare(TENANT, body))

    def item(self, actor_id: str, kind: str, payload: Any, *, sign: bool = True, **subject: str) -> dict[str, Any]:
        """A new intake item by ``actor_id``, signed unless ``sign`` is false."""
        actor = self.actor(actor_id, "device" if actor_id.startswith("dev") else "user")
        self.clock.advance(timedelta(seconds=1))
        item = new_item(actor, tenant=TENANT, kind=kind, payload=payload, occurred_at=self.clock.stamp(),
                        subject=subject)
        return sign_item(actor, item) if sign else item

    def keyframe(self, media: str, n: int, data: bytes, permit: str) -> dict[str, Any]:
        """A keyframe file stored under ``media`` and the signed event that proves it."""
        self.media[(media, f"{n}.jpg")] = data
        payload = {"sm3": sm3(data).hex(), "size": len(data), "file": f"{n}.jpg", "role": "keyframe"}
        return self.item("cam-1", "media.keyframe", payload, permit=permit, media=media)

    def checkpoint(self) -> None:
        """Wait (with a deadline) until the log writer has cut a checkpoint of everything logged."""
        deadline = time.monotonic() + 30
        while True:
            latest = self.log.latest_checkpoint()
            if latest is not None and latest.checkpoint.tree_size == self.log.tree_size:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no checkpoint of size {self.log.tree_size} within 30 s")
            time.sleep(0.01)

    def settle(self) -> None:
        """Wait for a checkpoint of everything logged and anchor it on the local journal."""
        self.checkpoint()
        self.anchorer.run_once()


def _fetch(world_media: dict[tuple[str, str], bytes]) -> Any:
    return lambda tenant, media, name: world_media.get((media, name))


@contextmanager
def open_world(root: Path, *, log_key: SM2PrivateKey | None = None, pdf: bool = False,
               small_viewer: bool = False, origin: str = ORIGIN, anchors: Sequence[Anchor] = ()) -> Iterator[World]:
    """A fresh world under ``root`` (a new folder); ``pdf`` renders real certificates (WeasyPrint);
    ``small_viewer`` puts a placeholder instead of the built verify.html (the golden vectors stay small);
    ``origin`` names the log (a chain that already holds the default origin needs a fresh one); ``anchors``
    are backends anchored besides the local journal (e.g. a TSA)."""
    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'tiezheng.db'}"
    migrate(url)
    engine = make_engine(url)
    clock = ManualClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    key = log_key or SM2PrivateKey.generate()
    signer = Signer.from_private_key(key)
    log = TransparencyLog(engine, origin=origin, signer=signer, checkpoint_interval=0.02, clock=clock)
    anchorer = Anchorer(log, [LocalJournal(root / "local-journal.jsonl", signer=signer, clock=clock), *anchors],
                        clock=clock)
    keys = KeyRegistry(engine, clock=clock)
    wrapper = LocalKeyWrapper(hashlib.sha256(b"vectors master key " + os.urandom(8)).digest()[:32])
    intake = EventIntake(keys, wrapper, max_batch=5000, clock=clock)
    media: dict[tuple[str, str], bytes] = {}
    builder = PackBuilder(log, keys, wrapper, render=ReportRenderer(confirm_base="https://tiezheng.example", pdf=pdf),
                          scope_events=LogScopes(log, engine).events, media=StoredMedia(_fetch(media)), clock=clock,
                          **({"viewer": lambda: b"<!doctype html><title>verify.html</title>"} if small_viewer else {}))
    log.start()
    try:
        yield World(log, anchorer, intake, keys, builder, clock, key, media)
    finally:
        log.close()
        engine.dispose()


def permit_story(world: World, permit: str = "HW-0001", *, keyframes: int = 2, deleted: bool = True) -> None:
    """A hot-work permit's evidence: signed steps, an attested detector batch, keyframes, a deleted video."""
    steps = ["permit.submitted", "permit.approved", "gas.analysis", "guardian.checkin", "permit.started"]
    world.log_events([world.item("liu.yang", kind, {"step": kind, "n": i}, permit=permit) for i, kind in enumerate(steps)])
    readings = [world.item("dev-lel-07", "detector.reading", {"lel_pct": 0.1 * i}, sign=False, permit=permit)
                for i in range(3)]
    world.log_events(readings, attest_batch(world.actor("dev-lel-07", "device"), TENANT, readings))
    frames = [world.keyframe("cam1-" + permit.lower(), n, f"JPEG frame {n} of {permit}".encode() * 8, permit)
              for n in range(keyframes)]
    world.log_events(frames)
    if deleted:
        video = "vid-" + permit.lower()
        stored = world.item("cam-1", "media.stored", {"sm3": sm3(b"video").hex(), "size": 5, "file": "video.mp4",
                                                      "role": "video"}, permit=permit, media=video)
        world.log_events([stored])
        world.log_events([world.item("svc-retention", "media.deleted", {"reason": "retention 180 days"},
                                     permit=permit, media=video)])
    world.log_events([world.item("liu.yang", "permit.closed", {"step": "closed", "id": str(uuid.uuid4())},
                                 permit=permit)])
