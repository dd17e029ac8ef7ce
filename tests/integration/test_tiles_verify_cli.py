"""``tiezheng tiles verify``: a regulator or insurer checks a copy of the log's hash tiles (a folder, a static web
server, the service itself) against their trust root alone. Every tampered tile or checkpoint, a fork, a wrong
leaf and a rolled-back copy is refused with its reason and exit code; a valid run can be chained with --save and
--since so that each run proves the log only grew."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from evidence_api.cli import app
from ingest.objectstore import FilesystemObjectStore
from ingest.tiles_export import export_tiles
from ledger.checkpoint import Checkpoint
from ledger.sm import Signer, SM2PrivateKey, sm3
from tests.integration.test_tiles_export import FIRST, SECOND, _Tree
from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID
from verifier.tiles import tile_path
from verifier.tiles_cli import tiles_verify_command
from verifier.trust import TrustRoot

ORIGIN = "test.tiezheng/log"


@pytest.fixture
def tree(engine: Engine, log_key: SM2PrivateKey) -> _Tree:
    return _Tree(engine, log_key)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "tiles"


@pytest.fixture
def trust_root(tmp_path: Path, log_key: SM2PrivateKey) -> str:
    path = tmp_path / "trust-root.json"
    path.write_text(TrustRoot.for_log(ORIGIN, log_key.public.to_pem()).to_json())
    return str(path)


def _hash(index: int) -> str:
    return sm3(index.to_bytes(8, "big")).hex()


def _leaf(index: int) -> str:
    return f"{index}:{_hash(index)}"


def _run(capsys: pytest.CaptureFixture[str], source: Path | str, trust_root: str | None,
         **options: object) -> tuple[int, dict[str, object]]:
    """The command's exit code and its --json output."""
    capsys.readouterr()
    code = tiles_verify_command(str(source), trust_root=trust_root, json_output=True, **options)  # type: ignore[arg-type]
    return code, json.loads(capsys.readouterr().out)


def _published(tree: _Tree, engine: Engine, folder: Path, size: int) -> str:
    """Grow the log to ``size`` leaves, export its tiles to ``folder``; the checkpoint text."""
    signed = tree.grow(size)
    export_tiles(engine, FilesystemObjectStore(folder))
    return signed.text


def test_a_valid_copy_proves_leaves_and_each_run_proves_the_log_only_grew(
        tree: _Tree, engine: Engine, folder: Path, trust_root: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = _published(tree, engine, folder, FIRST)
    seen = tmp_path / "seen-checkpoint"

    code, out = _run(capsys, folder, trust_root, leaves=[_leaf(0), _leaf(40_000), _leaf(FIRST - 1)], save=str(seen))

    assert code == EXIT_VALID, out
    assert (out["valid"], out["origin"], out["tree_size"]) == (True, ORIGIN, FIRST)
    assert out["checks"] == [f"right-edge tiles hash to the checkpoint's root of tree size {FIRST:,}",
                             f"leaf 0 is {_hash(0)}", f"leaf 40,000 is {_hash(40_000)}",
                             f"leaf 65,999 is {_hash(FIRST - 1)}", f"saved the checkpoint to {seen}"]
    assert seen.read_text() == first

    second = _published(tree, engine, folder, SECOND)
    code, out = _run(capsys, folder, trust_root, since=str(seen), save=str(seen))

    assert code == EXIT_VALID, out
    assert f"the tree of size {FIRST:,} from --since is a prefix of this tree" in out["checks"]  # type: ignore[operator]
    assert seen.read_text() == second
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seen")] == []  # no temporary file left


def test_a_tampered_tile_is_named_and_refused(tree: _Tree, engine: Engine, folder: Path, trust_root: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)
    full = folder / tile_path(0, 3)
    data = bytearray(full.read_bytes())
    data[100] ^= 0x01
    full.write_bytes(bytes(data))

    code, out = _run(capsys, folder, trust_root, leaves=[_leaf(3 * 256 + 7)])

    assert code == EXIT_INVALID
    assert out["error"] == "TileInvalid"
    assert str(out["failure"]).startswith("tile/0/003 does not hash to entry 3 of tile/1/000")
    # a leaf under untouched tiles still proves: only what a check reads is refused
    assert _run(capsys, folder, trust_root, leaves=[_leaf(10)])[0] == EXIT_VALID


def test_a_tampered_right_edge_is_refused_before_any_leaf(tree: _Tree, engine: Engine, folder: Path,
                                                          trust_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)
    edge = folder / tile_path(0, FIRST // 256, FIRST % 256)
    edge.write_bytes(bytes(32) + edge.read_bytes()[32:])

    code, out = _run(capsys, folder, trust_root)

    assert (code, out["error"]) == (EXIT_INVALID, "TileInvalid")
    assert "do not hash to the checkpoint's root of tree size 66000" in str(out["failure"])


def test_a_checkpoint_not_signed_by_the_trusted_key_is_refused(
        tree: _Tree, engine: Engine, folder: Path, trust_root: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    text = _published(tree, engine, folder, FIRST)
    other = tmp_path / "other-root.json"
    other.write_text(TrustRoot.for_log(ORIGIN, SM2PrivateKey.generate().public.to_pem()).to_json())

    code, out = _run(capsys, folder, str(other))
    assert (code, out["error"]) == (EXIT_INVALID, "KeyMismatch")

    body, _, signature = text.partition("\n\n")
    lines = body.split("\n")
    (folder / "checkpoint").write_text("\n".join([lines[0], str(FIRST + 1), lines[2]]) + "\n\n" + signature)
    code, out = _run(capsys, folder, trust_root)
    assert (code, out["error"]) == (EXIT_INVALID, "BadSignature")


def test_a_fork_since_the_saved_checkpoint_is_refused(tree: _Tree, engine: Engine, folder: Path, trust_root: str,
                                                      tmp_path: Path, log_key: SM2PrivateKey,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)
    forked = tmp_path / "forked"
    forked.write_text(Checkpoint(ORIGIN, 1_000, sm3(b"another history")).sign(Signer.from_private_key(log_key)).text)

    code, out = _run(capsys, folder, trust_root, since=str(forked), save=str(tmp_path / "not-written"))

    assert (code, out["error"]) == (EXIT_INVALID, "TreesInconsistent")
    assert "the two checkpoints are not of one append-only log" in str(out["failure"])
    assert not (tmp_path / "not-written").exists()


def test_an_older_copy_than_what_was_seen_proves_nothing(tree: _Tree, engine: Engine, folder: Path,
                                                         trust_root: str, tmp_path: Path, log_key: SM2PrivateKey,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)
    newer = tmp_path / "newer"
    newer.write_text(tree.grow(SECOND).text)  # signed by the log, but the copy was not exported again

    code, out = _run(capsys, folder, trust_root, since=str(newer))

    assert (code, out["error"]) == (EXIT_UNUSABLE, "CheckUnavailable")
    assert "a stale or a rolled-back copy; nothing was proven" in str(out["failure"])


@pytest.mark.parametrize(("leaf", "code", "error", "reason"), [
    (f"5:{'00' * 32}", EXIT_INVALID, "LeafMismatch", "leaf 5 of the tree of size 66000 is "),
    (_leaf(FIRST), EXIT_UNUSABLE, "CheckUnavailable", "leaf 66,000 is not in the source's tree of size 66,000"),
    ("5:abc", EXIT_UNUSABLE, "MalformedInput", "want INDEX:HASH"),
    ("-1:" + "00" * 32, EXIT_UNUSABLE, "MalformedInput", "want INDEX:HASH"),
])
def test_a_wrong_or_malformed_leaf_is_refused(tree: _Tree, engine: Engine, folder: Path, trust_root: str,
                                              capsys: pytest.CaptureFixture[str], leaf: str, code: int, error: str,
                                              reason: str) -> None:
    _published(tree, engine, folder, FIRST)

    got, out = _run(capsys, folder, trust_root, leaves=[leaf])

    assert (got, out["error"]) == (code, error)
    assert reason in str(out["failure"])


def test_unusable_sources_and_trust_roots_exit_2(tree: _Tree, engine: Engine, folder: Path, trust_root: str,
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)
    assert _run(capsys, folder, None)[1]["error"] == "UntrustedLog"
    assert _run(capsys, tmp_path / "absent", trust_root)[0] == EXIT_UNUSABLE
    assert _run(capsys, "ftp://example.invalid/tiles/", trust_root)[0] == EXIT_UNUSABLE
    (folder / tile_path(0, 100)).unlink()
    code, out = _run(capsys, folder, trust_root, leaves=[_leaf(100 * 256)])
    assert (code, out["error"]) == (EXIT_UNUSABLE, "CheckUnavailable")
    assert "tile/0/100" in str(out["failure"])
    (folder / "checkpoint").write_bytes(b"\xff\xfe not a note")
    assert _run(capsys, folder, trust_root)[1]["error"] == "MalformedInput"


@pytest.fixture
def web(folder: Path) -> Iterator[str]:
    """A plain static web server over the tiles folder, as a CDN origin would be."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tiles"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/tiles"))

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_copy_served_over_http_verifies_and_a_missing_tile_is_a_404(
        tree: _Tree, engine: Engine, folder: Path, web: str, trust_root: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    _published(tree, engine, folder, FIRST)

    code, out = _run(capsys, web, trust_root, leaves=[_leaf(12_345)])
    assert code == EXIT_VALID, out

    (folder / tile_path(0, 12_345 // 256)).unlink()
    code, out = _run(capsys, web + "/", trust_root, leaves=[_leaf(12_345)])
    assert (code, out["error"]) == (EXIT_UNUSABLE, "CheckUnavailable")
    assert f"GET {web}/tile/0/048: HTTP 404" in str(out["failure"])


def test_the_command_line_prints_what_was_proven(tree: _Tree, engine: Engine, folder: Path,
                                                 trust_root: str) -> None:
    _published(tree, engine, folder, FIRST)

    result = CliRunner().invoke(app, ["tiles", "verify", str(folder), "--trust-root", trust_root,
                                      "--leaf", _leaf(7)])

    assert result.exit_code == EXIT_VALID, result.output
    assert result.output.startswith(f"VALID: tiles of log {ORIGIN} at tree size 66,000, root ")
    assert f"leaf 7 is {_hash(7)}" in result.output


def test_an_empty_tree_s_checkpoint_must_state_the_empty_root(tmp_path: Path, log_key: SM2PrivateKey,
                                                              trust_root: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    signer = Signer.from_private_key(log_key)
    (folder / "checkpoint").write_text(Checkpoint(ORIGIN, 0, sm3(b"")).sign(signer).text)
    assert _run(capsys, folder, trust_root)[0] == EXIT_VALID

    (folder / "checkpoint").write_text(Checkpoint(ORIGIN, 0, sm3(b"not empty")).sign(signer).text)
    code, out = _run(capsys, folder, trust_root)
    assert (code, out["error"]) == (EXIT_INVALID, "TileInvalid")


def test_any_changed_byte_of_the_checkpoint_is_refused_without_a_traceback(
        tree: _Tree, engine: Engine, folder: Path, trust_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _published(tree, engine, folder, FIRST).encode()
    codes = set()
    for position in range(len(text)):
        changed = bytearray(text)
        changed[position] ^= 0x04
        (folder / "checkpoint").write_bytes(bytes(changed))
        code, out = _run(capsys, folder, trust_root)
        assert code in (EXIT_INVALID, EXIT_UNUSABLE), (position, out)
        codes.add(out["error"])
    assert codes <= {"BadSignature", "KeyMismatch", "MalformedInput", "UntrustedLog", "TileInvalid"}, codes
