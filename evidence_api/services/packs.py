"""Building evidence packs from the log (docs/formats.md, "Evidence pack v1"; issue 11).

``PackBuilder.build(tenant, scope)`` collects the scope's events through the log's read interface, picks
the pack checkpoint (the smallest anchored tree that covers them when there is one, so the anchors apply;
else the newest checkpoint), decrypts payloads with the tenant keys, proves every event against that one
checkpoint and links every anchored tree to it, adds the receipts of every kind, the keys, media, the
certificate and ``verify.html``, signs the manifest with the log key and writes the canonical zip. The
caller (``PackJobs``) verifies the zip with the independent verifier before handing it out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from evidence_api.services.errors import NotFound
from evidence_api.services.pack_files import MediaItem, PackEvent, PackInputs, Render, pack_files
from evidence_api.services.pack_viewer import verify_html
from evidence_api.services.pack_zip import write_pack_zip
from ledger.clock import Clock
from ledger.keystore import DataKeyWrapper, open_sealed
from ledger.log import LoggedEvent, TransparencyLog

__all__ = ["BuiltPack", "KeyLookup", "MediaSource", "PackBuilder", "Progress", "ReceiptSource", "ScopeEvents"]

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a pack is built."""


class KeyLookup(Protocol):
    """The tenant key registry as the builder needs it (``services.keys.KeyRegistry`` is one)."""

    def get(self, tenant: str, key_id: str) -> Any:
        """The key ``key_id`` of ``tenant``: with ``actor_type``, ``actor_id`` and ``public`` (an SM2 key)."""


class MediaSource(Protocol):
    """Where media bytes come from (the media service's store; a synthetic store in the benchmark)."""

    def items(self, tenant: str, events: list[tuple[LoggedEvent, dict[str, Any], Any]]) -> list[MediaItem]:
        """The media entries of ``events`` (logged event, leaf object, disclosed payload or None)."""


ScopeEvents = Callable[[str, dict[str, Any]], list[LoggedEvent]]
"""(tenant, scope) → the scope's events in log order; the area scope needs the permit table."""

ReceiptSource = Callable[[int], list[dict[str, Any]]]
"""tree size → receipts ``{"backend", "tree_size", "root_hash", ...}`` covering it (first per backend)."""


@dataclass(frozen=True)
class BuiltPack:
    """A built pack: its id, the zip, and the inputs it was made of (for the status and the report)."""

    pack_id: str
    data: bytes
    inputs: PackInputs


class PackBuilder:
    """Builds packs from one log; every collaborator is passed in so tests and the benchmark use real ones."""

    def __init__(self, log: TransparencyLog, keys: KeyLookup, wrapper: DataKeyWrapper, *, render: Render,
                 scope_events: ScopeEvents, media: MediaSource | None = None,
                 receipts: Iterable[ReceiptSource] = (), clock: Clock | None = None,
                 viewer: Callable[[], bytes] = verify_html) -> None:
        self._log, self._keys, self._wrapper, self._render = log, keys, wrapper, render
        self._scope_events, self._media, self._clock = scope_events, media, clock or Clock()
        self._receipts, self._viewer = [log.anchor_receipts_covering, *receipts], viewer

    def count(self, tenant: str, scope: dict[str, Any]) -> int:
        """How many logged events ``scope`` holds (what decides between building now and in the background)."""
        return len(self._scope_events(tenant, dict(scope)))

    def build(self, tenant: str, scope: dict[str, Any], *, pack_id: str | None = None,
              progress: Progress | None = None, tree_size: int | None = None) -> BuiltPack:
        """Build the pack of ``scope`` for ``tenant``; ``NotFound`` when the scope has no checkpointed event.

        ``tree_size`` pins the pack checkpoint to a stored checkpoint of that size (default: the smallest
        anchored tree covering the scope, else the newest checkpoint); ``progress`` is told each stage.
        """
        report = progress or (lambda stage, done, total: None)
        rows = self._scope_events(tenant, scope)
        size, checkpoint_text = self._checkpoint(rows, scope, tree_size)
        rows = [r for r in rows if r.leaf_index < size]
        report("events", 0, len(rows))
        events, leaves = self._events(tenant, rows, size, report)
        pack_id = pack_id or str(uuid.uuid4())
        receipts = self._anchors(size)
        inputs = PackInputs(
            pack_id=pack_id, created_at=self._clock.stamp(), tenant=tenant, scope=scope, origin=self._log.origin,
            checkpoint_text=checkpoint_text, tree_size=size, events=events,
            attestations=self._attestations(tenant, rows), actor_keys=self._actor_keys(tenant, rows, leaves),
            log_key_pem=self._log.signer.public.to_pem(),
            other_checkpoints=self._other_checkpoints(size, receipts),
            consistency=[(size, t, self._log.consistency_proof(size, t)) for t in sorted(
                {r["tree_size"] for rs in receipts.values() for r in rs} - {size})],
            anchors=receipts, media=self._media_items(tenant, rows, leaves, events),
        )
        report("sign", 0, 1)
        files = pack_files(inputs, log_key_fingerprint=self._log.signer.public.fingerprint(),
                           sign=self._log.signer.sign_b64, render=self._render, verify_html=self._viewer())
        data = write_pack_zip(files)
        report("sign", 1, 1)
        return BuiltPack(pack_id, data, inputs)

    def _checkpoint(self, rows: list[LoggedEvent], scope: dict[str, Any], pinned: int | None) -> tuple[int, str]:
        if not rows:
            raise NotFound(f"no logged event in scope {scope}; nothing to pack")
        needed = rows[-1].leaf_index + 1
        if pinned is not None:
            chosen = self._log.checkpoint_at(pinned)
            if chosen is None or pinned < rows[0].leaf_index + 1:
                raise NotFound(f"no checkpoint of tree size {pinned} covers the scope's first event")
            return chosen.checkpoint.tree_size, chosen.text
        covering = [r["tree_size"] for r in self._log.anchor_receipts_covering(needed)]
        latest = self._log.latest_checkpoint()
        size = min(covering) if covering else (latest.checkpoint.tree_size if latest else 0)
        signed = self._log.checkpoint_at(size) if size >= needed else None
        if signed is None:
            if latest is None or latest.checkpoint.tree_size < needed:
                raise NotFound("the scope's events are logged but no checkpoint covers them yet; retry in a second")
            signed = latest
        return signed.checkpoint.tree_size, signed.text

    def _events(self, tenant: str, rows: list[LoggedEvent], size: int,
                report: Progress) -> tuple[list[PackEvent], list[dict[str, Any]]]:
        events, leaves = [], []
        proofs = self._log.inclusion_proofs([row.leaf_index for row in rows], size)
        for done, (row, proof) in enumerate(zip(rows, proofs, strict=True), start=1):
            events.append(PackEvent(row.leaf_index, row.leaf, proof, self._payload(tenant, row)))
            leaves.append(orjson.loads(row.leaf))
            if done % 200 == 0 or done == len(rows):
                report("events", done, len(rows))
        return events, leaves

    def _payload(self, tenant: str, row: LoggedEvent) -> tuple[str, Any] | None:
        context = f"{tenant}|{row.event_id}".encode()
        try:
            stored = orjson.loads(open_sealed(self._wrapper, tenant, row.payload_sealed, row.payload_key,
                                              context=context))
        except Exception:  # noqa: BLE001 - a shredded or unreadable payload is left undisclosed, not fatal
            return None
        return stored["salt"], stored["payload"]

    def _attestations(self, tenant: str, rows: list[LoggedEvent]) -> list[dict[str, Any]]:
        digests = sorted({r.attestation_digest for r in rows if r.attestation_digest is not None})
        found = [self._log.attestation(tenant, d) for d in digests]
        return [a for a in found if a is not None]

    def _actor_keys(self, tenant: str, rows: list[LoggedEvent], leaves: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = {}
        for leaf in leaves:
            key_id = leaf["actor"]["key_id"]
            if key_id not in out:
                key = self._keys.get(tenant, key_id)
                out[key_id] = {"key_id": key_id, "actor": {"type": key.actor_type, "id": key.actor_id},
                               "fingerprint": key.public.fingerprint(), "public_key": key.public.to_pem()}
        return list(out.values())

    def _anchors(self, size: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for source in self._receipts:
            for receipt in source(size):
                kind = receipt["backend"]
                out.setdefault(kind, []).append({k: v for k, v in receipt.items() if k != "backend"})
        return out

    def _other_checkpoints(self, size: int, receipts: dict[str, list[dict[str, Any]]]) -> dict[int, str]:
        out = {}
        for tree_size in {r["tree_size"] for rs in receipts.values() for r in rs} - {size}:
            signed = self._log.checkpoint_at(tree_size)
            if signed is not None:
                out[tree_size] = signed.text
        return out

    def _media_items(self, tenant: str, rows: list[LoggedEvent], leaves: list[dict[str, Any]],
                     events: list[PackEvent]) -> list[MediaItem]:
        if self._media is None:
            return []
        triples = [(row, leaf, e.payload[1] if e.payload else None) for row, leaf, e in zip(rows, leaves, events,
                                                                                           strict=True)]
        return self._media.items(tenant, [t for t in triples if t[1]["subject"].get("media")])
