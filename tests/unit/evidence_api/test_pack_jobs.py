"""Pack jobs: a pack that fails its own verification is recorded as failed with the verifier's reason and never
served; a build interrupted by a restart is failed on the next start."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_api import db
from evidence_api.services.errors import Conflict, NotFound
from evidence_api.services.pack_jobs import PackJobs
from ledger.sm import SM2PrivateKey
from tests.vectors.pack_world import ORIGIN, TENANT, open_world, permit_story
from verifier.trust import TrustRoot


def test_pack_failing_its_self_check_is_failed_not_served(tmp_path: Path) -> None:
    with open_world(tmp_path / "w") as world:
        permit_story(world, "HW-1")
        world.settle()
        stranger = TrustRoot.for_log(ORIGIN, SM2PrivateKey.generate().public.to_pem())
        jobs = PackJobs(world.log.engine, world.builder, stranger, tmp_path / "packs", clock=world.clock)
        status = jobs.create(TENANT, {"kind": "permit", "permit": "HW-1"})
        assert status.status == "failed" and status.error is not None
        assert "self-check refused the pack (manifest-signature)" in status.error
        with pytest.raises(Conflict, match="is failed"):
            jobs.zip_path(TENANT, status.id)
        assert not (tmp_path / "packs").exists()
        with pytest.raises(NotFound, match="no logged event"):
            jobs.create(TENANT, {"kind": "permit", "permit": "NOPE"})


def test_pack_building_at_a_restart_is_failed(tmp_path: Path) -> None:
    with open_world(tmp_path / "w") as world:
        permit_story(world, "HW-1")
        world.settle()
        trust = TrustRoot.for_log(ORIGIN, world.log.signer.public.to_pem())
        jobs = PackJobs(world.log.engine, world.builder, trust, tmp_path / "packs", clock=world.clock, sync_limit=0)
        queued = jobs.create(TENANT, {"kind": "permit", "permit": "HW-1"})
        jobs.close()  # finishes the pack being built, then stops
        assert jobs.status(TENANT, queued.id).status == "ready"
        with world.log.engine.begin() as conn:
            conn.execute(db.evidence_packs.update().values(status="building", stage="events"))
        restarted = PackJobs(world.log.engine, world.builder, trust, tmp_path / "packs", clock=world.clock)
        again = restarted.status(TENANT, queued.id)
        assert again.status == "failed" and again.error is not None and "stopped while building" in again.error
