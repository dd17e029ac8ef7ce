"""``tiezheng digest verify`` against digests the service served: valid, and every tampering caught with
its exact reason (the verifier imports no server code; the service only produces the files)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.clock import ManualClock
from tests.api.digest_support import DAY, JUNK, clock, day_api, day_client, paths, wait_anchored, worked_day
from tests.api.support import Api
from tests.helpers import signed_item
from verifier._json import canonical
from verifier.digest_cli import digest_verify_command
from verifier.sm import sm3
from verifier.trust import TrustRoot

__all__ = ["clock", "day_api", "day_client"]  # fixtures

NEXT = "2026-12-01"


@pytest.fixture
def two_days(day_api: Api, clock: ManualClock, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Digest files of DAY and NEXT (both anchored) and a trust root naming the log key."""
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat(f"{NEXT}T10:00:00+08:00"))
    day_api.post_events({"events": [signed_item(day_api.guardian, permit=None, kind="guardian.checkin")]})
    day_api.checkpoint(day_api.tree_size)
    clock.set(datetime.fromisoformat("2026-12-02T03:00:00+08:00"))
    files = []
    for day in (DAY, NEXT):
        path = tmp_path / f"digest-{day}.json"
        path.write_text(json.dumps(wait_anchored(day_api, day)))
        files.append(path)
    root = tmp_path / "trust-root.json"
    root.write_text(day_api.trust_root().to_json())
    return files[0], files[1], root


def _run(path: Path, root: Path | None, previous: Path | None = None) -> tuple[int, dict[str, Any]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = digest_verify_command(str(path), trust_root=str(root) if root else None,
                                     previous=str(previous) if previous else None, json_output=True, verbose=False)
    return code, json.loads(out.getvalue())


def _tampered(path: Path, change: Any, *, rehash: bool = False) -> Path:
    data = json.loads(path.read_text())
    change(data)
    if rehash:
        data["digest_hash"] = sm3(canonical(data["digest"])).hex()
    out = path.with_name("tampered.json")
    out.write_text(json.dumps(data))
    return out


def test_digest_verify_valid_with_previous(two_days: tuple[Path, Path, Path]) -> None:
    first, second, root = two_days

    code, report = _run(second, root, previous=first)

    assert code == 0, report
    assert report["valid"] and report["previous_checked"] and report["date"] == NEXT
    assert report["anchors"] == {"local": "verified"} and report["assurance"] == "signed"


def test_digest_verify_without_previous_notes_it(two_days: tuple[Path, Path, Path]) -> None:
    _, second, root = two_days

    code, report = _run(second, root)

    assert code == 0 and any("--previous" in note for note in report["notes"])


def _set_count(data: dict[str, Any]) -> None:
    data["digest"]["counts"]["gas_alarms"] = 0


def _unknown_field(data: dict[str, Any]) -> None:
    data["digest"]["counts"]["worker_name"] = "张三"


def _receipt_root(data: dict[str, Any]) -> None:
    data["anchors"][0]["receipt"]["root_hash"] = "00" * 32


def _receipt_entry(data: dict[str, Any]) -> None:
    data["anchors"][0]["receipt"]["entry"]["anchored_at"] = "2020-01-01T00:00:00.000Z"


def _proof(data: dict[str, Any]) -> None:
    proof = data["digest"]["previous"]["consistency_proof"]
    proof[0] = ("ff" if proof[0][:2] != "ff" else "00") + proof[0][2:]


@pytest.mark.parametrize(("change", "rehash", "code", "reason"), [
    (_set_count, False, 1, "digest_hash .* is not the sm3 of the digest"),
    (_set_count, True, 1, "digest signature does not verify under log key"),
    (_unknown_field, True, 2, "unknown field 'worker_name'"),
    (_receipt_root, False, 1, "local receipt is of tree size .* not the digest's tree"),
    (_receipt_entry, False, 1, "journal entry seq .* signature does not verify"),
])
def test_digest_verify_tampered(two_days: tuple[Path, Path, Path], change: Any, rehash: bool, code: int,
                                reason: str) -> None:
    import re

    first, _, root = two_days

    got, report = _run(_tampered(first, change, rehash=rehash), root)

    assert got == code and re.search(reason, report["failure"]), report


def test_digest_verify_tampered_consistency_proof(two_days: tuple[Path, Path, Path]) -> None:
    first, second, root = two_days

    code, report = _run(_tampered(second, _proof, rehash=True), root, previous=first)

    assert code == 1  # the signature covers the proof
    assert "signature does not verify" in report["failure"]


def test_digest_verify_wrong_previous(two_days: tuple[Path, Path, Path]) -> None:
    _, second, root = two_days

    code, report = _run(second, root, previous=second)

    assert code == 1 and "the previous digest is of 2026-12-01, want 2026-11-30" in report["failure"]


def test_digest_verify_without_trust_root(two_days: tuple[Path, Path, Path]) -> None:
    first, _, _ = two_days

    code, report = _run(first, None)

    assert code == 2 and "no trust root given" in report["failure"]


def test_digest_verify_trust_root_of_another_log(two_days: tuple[Path, Path, Path], day_api: Api) -> None:
    first, _, root = two_days
    other = root.with_name("other.json")
    other.write_text(TrustRoot.for_log("another.example/log", day_api.log_key_pem()).to_json())

    code, report = _run(first, other)

    assert code == 2 and "names no key for log" in report["failure"]


def test_digest_verify_not_json(tmp_path: Path, two_days: tuple[Path, Path, Path]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")

    code, report = _run(bad, two_days[2])

    assert code == 2 and "not valid json" in report["failure"]


def test_digest_verify_pending_and_unchecked_anchors(two_days: tuple[Path, Path, Path]) -> None:
    first, _, root = two_days
    data = json.loads(first.read_text())
    digest_tree = data["digest"]["log"]
    data["anchors"] = [{"backend": "fabric", "status": "pending"},
                       {"backend": "besu-x", "status": "anchored", "receipt": {
                           "backend": "besu-x", "tree_size": digest_tree["tree_size"],
                           "root_hash": digest_tree["root_hash"]}}]
    path = first.with_name("pending.json")
    path.write_text(json.dumps(data))

    code, report = _run(path, root)

    assert code == 0 and report["assurance"] == "signed"
    assert report["anchors"] == {"fabric": "pending", "besu-x": "unchecked"}
    assert any(note.startswith("besu-x: no offline check") for note in report["notes"])


def test_digest_verify_refuses_a_receipt_of_another_tree(two_days: tuple[Path, Path, Path]) -> None:
    first, _, root = two_days
    data = copy.deepcopy(json.loads(first.read_text()))
    data["anchors"].append({"backend": "evm", "status": "anchored", "receipt": {
        "backend": "evm", "tree_size": 1, "root_hash": "11" * 32}})
    path = first.with_name("other-tree.json")
    path.write_text(json.dumps(data))

    code, report = _run(path, root)

    assert code == 1 and "evm receipt is of tree size 1" in report["failure"]


def test_digest_verify_reports_the_registry_record(two_days: tuple[Path, Path, Path]) -> None:
    first, _, root = two_days
    assert _run(first, root)[1]["registry"] == "not_configured"
    data = json.loads(first.read_text())
    data["registry"] = {"status": "recorded", "receipt": {"backend": "evm"}}
    path = first.with_name("recorded.json")
    path.write_text(json.dumps(data))

    code, report = _run(path, root)

    assert code == 2 and "evm digest receipt is missing field" in report["failure"], report
    data["registry"] = {"status": "recorded"}
    path.write_text(json.dumps(data))
    assert _run(path, root) == (2, {"valid": False, "error": "MalformedInput", "exit_code": 2,
                                    "failure": "registry: a receipt comes with status recorded, and only then"})


def test_digest_verify_never_crashes_on_a_mangled_file(two_days: tuple[Path, Path, Path]) -> None:
    """Every field of a served digest file replaced by every junk value: a verdict (0, 1 or 2), never a crash."""
    from verifier.digest import DigestFile, verify_digest
    from verifier.errors import VerifierError

    first, second, root_path = two_days
    root = TrustRoot.from_file(root_path)
    original = json.loads(second.read_text())
    accepted = set()
    for path in paths(original)[1:]:
        for junk in JUNK:
            data = copy.deepcopy(original)
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            try:
                verify_digest(DigestFile.from_bytes(json.dumps(data).encode()), trust_root=root,
                              previous=DigestFile.from_bytes(first.read_bytes()))
                accepted.add(path)
            except VerifierError:
                pass
    # unsigned by design (receipts arrive after signing): dropping every anchor or the registry record only
    # lowers what the report shows; a receipt's own "backend" echo is not relied on; NEXT opened and closed no
    # permits, so [] there is the signed value itself
    assert accepted <= {("anchors",), ("registry",), ("anchors", 0, "receipt", "backend"),
                        ("digest", "counts", "permits_opened"), ("digest", "counts", "permits_closed")}
