"""``tiezheng pack build`` (``evidence_api.pack_cli``): the scope from the flags, the saved zip, the progress of a
background build, and the exits for a refusal and a failed build."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_api.pack_cli import pack_build_command, scope_from_flags
from tests.api.support import Api
from tests.helpers import signed_item
from verifier.pack import verify_pack


def _log_permit(api: Api, permit: str, count: int) -> None:
    body = {"events": [signed_item(api.guardian, permit=permit, payload={"n": n}) for n in range(count)]}
    assert api.post_events(body).status_code == 201
    api.checkpoint(api.tree_size)


def test_scope_from_flags() -> None:
    assert scope_from_flags(permit="P-1", area=None, start=None, end=None, worker=None) == {
        "kind": "permit", "permit": "P-1"}
    assert scope_from_flags(permit=None, area="u-3", start="2026-12-01T00:00:00Z", end="2026-12-02T00:00:00Z",
                            worker=None)["kind"] == "area"
    with pytest.raises(ValueError, match="name one scope"):
        scope_from_flags(permit="P-1", area=None, start=None, end=None, worker="w-1")
    with pytest.raises(ValueError, match="--area needs --from and --to"):
        scope_from_flags(permit=None, area="u-3", start=None, end=None, worker=None)


def test_pack_build_saves_the_verified_zip(api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _log_permit(api, "P-1", 3)
    out = tmp_path / "pack.zip"
    assert pack_build_command(api.typed("reader"), {"kind": "permit", "permit": "P-1"}, out) == 0
    assert verify_pack(out.read_bytes(), trust_root=api.trust_root()).counts["events"] == 3
    assert "saved evidence pack" in capsys.readouterr().out


def test_pack_build_follows_a_background_build(api: Api, tmp_path: Path) -> None:
    api.client.app.state.services.packs._sync_limit = 1  # type: ignore[attr-defined]
    _log_permit(api, "P-2", 4)
    out = tmp_path / "pack.zip"
    assert pack_build_command(api.typed("admin"), {"kind": "permit", "permit": "P-2"}, out, poll=0.02) == 0
    assert verify_pack(out.read_bytes(), trust_root=api.trust_root()).counts["events"] == 4


def test_pack_build_exits_2_on_a_refusal(api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack.zip"
    assert pack_build_command(api.typed("ingest"), {"kind": "permit", "permit": "P-3"}, out) == 2
    assert "403" in capsys.readouterr().out and not out.exists()
