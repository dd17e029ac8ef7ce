"""verify.html's RFC 3161 and cosignature checks, one receipt at a time, against the command line's
(``verifier.timestamps``, ``verifier.witness``): a real token of the test TSA (``openssl ts -reply``) with every
byte flipped in turn, a token of other data and one under another TSA's root; real C2SP cosignatures by
``ledger.cosignature`` with flipped bytes, unknown keys and SM2 witness keys. Both must accept the same and
refuse the same, and report the same genTime, serial and cosigners. Pack-level agreement is
``test_web_agreement.py``.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.checkpoint import Checkpoint as LedgerCheckpoint
from ledger.cosignature import CosignerKey
from ledger.sm import Signer, SM2PrivateKey
from tests.e2e.verify_html_kit import WEB
from tests.tamper.timed import untrusted_token
from verifier._pem import certificate_der
from verifier.checkpoint import Checkpoint
from verifier.errors import VerifierError
from verifier.timestamps import verify_token
from verifier.trust import TimestampAuthority, WitnessKey
from verifier.witness import verify_cosignatures

pytestmark = pytest.mark.tsa
MESSAGE = b"tiezheng.test/log\n7\n" + base64.b64encode(bytes(32)) + b"\n\n"


def _node(kind: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None and (WEB / "node_modules").is_dir(), "run `bash verifier/web/build.sh` first"
    done = subprocess.run([node, "cli.mjs", kind], cwd=WEB, input="".join(json.dumps(c) + "\n" for c in cases),
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.split("\n") if line]  # not splitlines: U+0085 is no break here


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, bytes]:
    """A real token over MESSAGE, its TSA's root (DER) and another test TSA's root (DER)."""
    state, other = tmp_path_factory.mktemp("tsa"), tmp_path_factory.mktemp("other-tsa")
    token = untrusted_token(state, MESSAGE)
    untrusted_token(other, MESSAGE)
    return token, *(certificate_der((s / "root.pem").read_text(), "root") for s in (state, other))  # type: ignore[return-value]


def _python_token(token: bytes, message: bytes, root: bytes) -> str | tuple[str, str]:
    try:
        result = verify_token(token, message=message, authorities=[TimestampAuthority("tsa", (root,))])
    except VerifierError:
        return "refused"
    return result.gen_time.isoformat().replace("+00:00", "Z"), str(result.serial_number)


def _case(token: bytes, message: bytes, root: bytes) -> dict[str, Any]:
    return {"token": base64.b64encode(token).decode(), "message": base64.b64encode(message).decode(),
            "roots": [base64.b64encode(root).decode()]}


def test_web_token_check_reports_the_cli_time_and_serial(tsa: tuple[bytes, bytes, bytes]) -> None:
    token, root, other = tsa
    got = _node("tokens", [_case(token, MESSAGE, root), _case(token, MESSAGE + b"x", root), _case(token, MESSAGE, other)])
    assert (got[0]["genTime"], got[0]["serial"]) == _python_token(token, MESSAGE, root)
    assert [g["ok"] for g in got] == [True, False, False]
    assert "other data" in got[1]["detail"] and "not issued by a trusted root" in got[2]["detail"]
    assert _python_token(token, MESSAGE + b"x", root) == _python_token(token, MESSAGE, other) == "refused"


def test_web_token_check_refuses_every_flipped_byte_as_the_cli(tsa: tuple[bytes, bytes, bytes]) -> None:
    """Every byte flipped two ways, truncations and random overwrites: refused by both, never a crash."""
    token, root, _ = tsa
    rng = random.Random(3161)
    flipped = [token[:n] for n in range(0, len(token), 37)] + [token + b"\0"]
    for offset in range(len(token)):
        for xor in (0x01, 0x80):
            data = bytearray(token)
            data[offset] ^= xor
            flipped.append(bytes(data))
        data = bytearray(token)
        data[offset:offset + 4] = rng.randbytes(4)
        flipped.append(bytes(data))
    got = _node("tokens", [_case(t, MESSAGE, root) for t in flipped])
    differ = [(i, g) for i, (t, g) in enumerate(zip(flipped, got, strict=True))
              if (_python_token(t, MESSAGE, root) == "refused") == g["ok"]]
    assert not differ, f"{len(differ)} of {len(flipped)} mutations differ (case, node): {differ[:5]}"
    assert not any(g["ok"] for g in got)


def _witness(name: str) -> tuple[CosignerKey, dict[str, str]]:
    key = CosignerKey(name, Ed25519PrivateKey.generate())
    pem = key.public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return key, {"name": name, "public_key": pem}


def _python_cosigners(text: str, witnesses: list[dict[str, str]]) -> list[tuple[str, int]] | str:
    from verifier.trust import TrustRoot

    root = TrustRoot.from_bytes(json.dumps({"v": 1, "type": "tiezheng.trust-root/v1", "logs": [],
                                            "witnesses": {"quorum": 0, "keys": witnesses}}).encode())
    keys: tuple[WitnessKey, ...] = root.witnesses.keys
    try:
        return [(c.name, c.timestamp) for c in verify_cosignatures(Checkpoint.from_text(text), keys)]
    except VerifierError:
        return "refused"


def test_web_cosignatures_count_and_refuse_as_the_cli(tmp_path: Path) -> None:
    signer = Signer.from_private_key(SM2PrivateKey.generate())
    note = LedgerCheckpoint("tiezheng.test/log", 7, bytes(32)).sign(signer).text
    body = note[:note.index("\n\n") + 1].encode()
    (a, a_json), (b, b_json), (stranger, _) = _witness("a.test/w"), _witness("b.test/w"), _witness("c.test/w")
    sm2 = {"name": "sm2.test/w", "public_key": Signer.from_private_key(SM2PrivateKey.generate()).public.to_pem()}
    line_a, line_b = a.cosign(body, 1764576000), b.cosign(body, 1764576001)
    blob = bytearray(base64.b64decode(line_a.split(" ")[-1]))
    cases: list[tuple[str, list[dict[str, str]]]] = [(note + line_a + line_b, [a_json, b_json, sm2]),
                                                    (note + stranger.cosign(body, 5), [a_json, b_json]),
                                                    (note + line_a, [b_json, sm2])]
    for offset in range(len(blob)):
        flipped = bytearray(blob)
        flipped[offset] ^= 0x40
        cases.append((note + f"\u2014 a.test/w {base64.b64encode(bytes(flipped)).decode()}\n", [a_json]))
    got = _node("cosignatures", [{"checkpoint": text, "witnesses": keys} for text, keys in cases])
    node = [[(c["name"], c["timestamp"]) for c in g["cosigners"]] if g["ok"] else "refused" for g in got]
    assert node == [_python_cosigners(text, keys) for text, keys in cases]
    assert node[:3] == [[("a.test/w", 1764576000), ("b.test/w", 1764576001)], [], []]
    assert node[3:7] == [[]] * 4 and node[7:] == ["refused"] * (len(blob) - 4)
