"""The newcomer's path: ``tiezheng demo`` runs, writes a trust root, its bundle verifies offline against it,
and the same bundle with any one byte changed, or any field replaced by a hostile value, does not."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evidence_api.config import Settings
from evidence_api.demo import run_demo
from ingest.objectstore import FilesystemObjectStore
from ingest.tiles_export import export_tiles
from ledger.database import make_engine
from verifier.bundle import Bundle, verify_bundle
from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, verify_command
from verifier.errors import VerifierError
from verifier.sm import PublicKey
from verifier.tiles_cli import tiles_verify_command
from verifier.trust import TrustRoot


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path, Path]:
    """The demo's bundle, its trust root file (written by the demo under its data dir) and the bundle's path."""
    root = tmp_path_factory.mktemp("demo")
    out = root / "bundle.json"
    assert run_demo(data_dir=root / "data", out=out) == 0
    return out.read_bytes(), root / "data" / "trust-root.json", out


def test_demo_writes_trust_root_of_its_log(demo_bundle: tuple[bytes, Path, Path]) -> None:
    data, trust_root, _ = demo_bundle
    root = TrustRoot.from_file(trust_root)
    origin = Bundle.from_bytes(data).checkpoint.origin
    published = PublicKey.from_pem((trust_root.parent / "log-public-key.pem").read_text()).fingerprint()
    assert [(k.origin, k.fingerprint) for k in root.logs] == [(origin, published)]


def test_demo_bundle_verifies(demo_bundle: tuple[bytes, Path, Path]) -> None:
    data, trust_root, _ = demo_bundle
    report = verify_bundle(Bundle.from_bytes(data), trust_root=TrustRoot.from_file(trust_root))
    assert report.valid and report.assurance == "signed"


def test_demo_bundle_any_byte_changed_fails(demo_bundle: tuple[bytes, Path, Path]) -> None:
    data, trust_root, _ = demo_bundle
    root = TrustRoot.from_file(trust_root)
    accepted = []
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            tampered = bytearray(data)
            tampered[position] ^= flip
            try:
                verify_bundle(Bundle.from_bytes(bytes(tampered)), trust_root=root)
            except VerifierError:
                continue
            accepted.append((position, flip, data[max(0, position - 20) : position + 20]))
    assert not accepted, f"{len(accepted)} tampered bundles verified, first: {accepted[:3]}"


_HOSTILE: list[Any] = [None, True, -1, 2**53, 2**60, 1e308, "", "\ud800", "\x1b[2J", "0" * 64, [], {}, [[[]]]]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[tuple[Any, ...]] = []
    for key, child in children:
        found += [(*path, key), *_paths(child, (*path, key))]
    return found


def test_demo_bundle_hostile_fields_exit_1_or_2(
    demo_bundle: tuple[bytes, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bounded, seeded fuzz of the real bundle through the command: no input gives a traceback."""
    data, trust_root, _ = demo_bundle
    original, rng, codes = json.loads(data), random.Random(8), set()
    target = tmp_path / "mutated.json"
    for _ in range(300):
        mutated = json.loads(data)
        *parents, last = rng.choice(_paths(original))
        holder = mutated
        for key in parents:
            holder = holder[key]
        holder[last] = rng.choice(_HOSTILE)
        target.write_text(json.dumps(mutated))
        code = verify_command(str(target), trust_root=str(trust_root), json_output=rng.random() < 0.5, verbose=False)
        withheld = {"anchors": [], "payload": None}  # dropping anchors or the payload is allowed: less evidence
        assert code in (EXIT_INVALID, EXIT_UNUSABLE) or {**mutated, **withheld} == {**original, **withheld}
        codes.add(code)
    capsys.readouterr()
    assert {EXIT_INVALID, EXIT_UNUSABLE} <= codes


def test_verify_cli_exit_codes(demo_bundle: tuple[bytes, Path, Path], tmp_path: Path) -> None:
    data, trust_root, path = demo_bundle
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(data.replace(b"guardian.checkin", b"guardian.checkout", 1))
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"{not json")
    huge_index = tmp_path / "huge-index.json"
    huge_index.write_text(json.dumps({**json.loads(data), "leaf_index": 2**60}))

    def run(target: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "evidence_api.cli", "verify", str(target), *flags],
                              check=False, capture_output=True, text=True, env=env)

    assert run(path, "--trust-root", str(trust_root)).returncode == EXIT_VALID
    assert run(path, env={**os.environ, "TIEZHENG_TRUST_ROOT": str(trust_root)}).returncode == EXIT_VALID
    failed = run(tampered, "--trust-root", str(trust_root))
    assert failed.returncode == EXIT_INVALID and "leaf hash and inclusion proof" in failed.stdout
    untrusted = run(path, env={k: v for k, v in os.environ.items() if k != "TIEZHENG_TRUST_ROOT"})
    assert untrusted.returncode == EXIT_UNUSABLE and "no trust root given" in untrusted.stdout
    assert "VALID" not in untrusted.stdout.replace("UNUSABLE", "")
    refused = run(huge_index, "--trust-root", str(trust_root))
    assert refused.returncode == EXIT_UNUSABLE and "outside ±(2^53 - 1)" in refused.stdout
    assert "Traceback" not in refused.stderr
    assert run(garbage, "--trust-root", str(trust_root)).returncode == EXIT_UNUSABLE
    assert run(tmp_path / "missing.json", "--trust-root", str(trust_root)).returncode == EXIT_UNUSABLE


def test_trust_root_init_cli_writes_what_the_demo_wrote(demo_bundle: tuple[bytes, Path, Path], tmp_path: Path) -> None:
    data, trust_root, _ = demo_bundle
    out = tmp_path / "trust-root.json"
    origin = Bundle.from_bytes(data).checkpoint.origin
    made = subprocess.run([sys.executable, "-m", "evidence_api.cli", "trust-root", "init", "--origin", origin,
                           "--log-key", str(trust_root.parent / "log-public-key.pem"), "-o", str(out)],
                          check=False, capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    assert out.read_bytes() == trust_root.read_bytes()


def test_demo_pack_carries_the_permits_media_and_verifies(demo_bundle: tuple[bytes, Path, Path]) -> None:
    """The service's own packs hold the stored media of the permit (the demo's photos and keyframes)."""
    from verifier.pack import verify_pack
    from verifier.pack_zip import read_pack_zip

    _, trust_root, out = demo_bundle
    pack = out.with_name("demo-pack.zip").read_bytes()

    media = [e.path for e in read_pack_zip(pack) if e.path.startswith("media/")]
    report = verify_pack(pack, trust_root=TrustRoot.from_file(trust_root))

    assert len(media) >= 4, media  # at least the demo's four start photos
    assert report.assurance.startswith("signed")


def test_demo_bundle_is_proved_from_the_log_s_exported_tiles(demo_bundle: tuple[bytes, Path, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A receipt holder checks a static copy of the tiles: the event is in it, the log has not forked since."""
    data, trust_root, path = demo_bundle
    engine = make_engine(Settings(data_dir=trust_root.parent).database_url)
    try:
        export_tiles(engine, FilesystemObjectStore(tmp_path / "tiles"))
    finally:
        engine.dispose()
    bundle = Bundle.from_bytes(data)

    capsys.readouterr()
    code = tiles_verify_command(str(tmp_path / "tiles"), trust_root=str(trust_root), bundles=[str(path)],
                                json_output=True)
    out = json.loads(capsys.readouterr().out)

    assert code == EXIT_VALID, out
    assert f"is leaf {bundle.leaf_index:,}, and its checkpoint of size {bundle.checkpoint.tree_size:,} is a prefix" \
        in out["checks"][-1]

    moved = json.loads(data)
    moved["leaf_index"] = (bundle.leaf_index + 1) % bundle.checkpoint.tree_size  # the claim points at another leaf
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    code = tiles_verify_command(str(tmp_path / "tiles"), trust_root=str(trust_root),
                                bundles=[str(tmp_path / "moved.json")], json_output=True)
    assert (code, json.loads(capsys.readouterr().out)["error"]) == (EXIT_INVALID, "LeafMismatch")
