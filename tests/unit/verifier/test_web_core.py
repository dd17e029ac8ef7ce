"""The browser verifier's JavaScript core (``verifier/web``), run from pytest so ``.ci/run`` covers it.

1. Its Node unit tests (``node --test``): the golden vectors of tests/vectors (inclusion, consistency, media
   segments), SM3 known answers, SM2 signatures made by OpenSSL, RFC 8785 examples, strict JSON.
2. Agreement with the Python verifier on the two things every later check rests on: which JSON texts are
   refused (docs/formats.md "Strictness") and the RFC 8785 bytes of the rest, over random doubles, random
   values and byte-level mutations of a real event.
"""

from __future__ import annotations

import base64
import json
import math
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from verifier._json import canonical, loads
from verifier.errors import MalformedInput

WEB = Path(__file__).resolve().parents[3] / "verifier" / "web"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the browser verifier's core runs on node (apt-get install nodejs)")
    if not (WEB / "node_modules").is_dir():
        pytest.fail("verifier/web/node_modules is missing: run `bash verifier/web/build.sh` (scripts/install.sh does)")
    return node


def _js_canonical(texts: list[bytes]) -> list[str]:
    stdin = "".join(base64.b64encode(t).decode() + "\n" for t in texts)
    result = subprocess.run([_node(), "cli.mjs", "canonical"], cwd=WEB, input=stdin, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _py_canonical(text: bytes) -> str:
    try:
        return canonical(loads(text, "input")).hex()
    except MalformedInput:
        return "refused"


def _assert_agree(texts: list[bytes]) -> None:
    got = _js_canonical(texts)
    assert len(got) == len(texts)
    differ = [(t, g, _py_canonical(t)) for t, g in zip(texts, got, strict=True) if g != _py_canonical(t)]
    assert not differ, f"{len(differ)} of {len(texts)} differ; first (input, js, python): {differ[0]!r}"


def test_web_core_node_unit_tests() -> None:
    result = subprocess.run([_node(), "--test", "test/"], cwd=WEB, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_web_canonical_random_doubles_agree() -> None:
    rng = random.Random(8785)
    doubles = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(3000)]
    doubles += [1e21, 1e-7, 5e-324, 1.7976931348623157e308, -0.0, 0.1 + 0.2, 2.0**53, 123456789012345680.0]
    texts = [json.dumps([d]).encode() for d in doubles if math.isfinite(d)]
    _assert_agree(texts)


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(8 if depth < 4 else 5)
    alphabet = ["a", "é", "\u20ac", "\U0001f600", "\ufb33", "\x00", "\n", '"', "\\", "\u2028", "\x7f", "z"]
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if pick == 2:
        return rng.uniform(-1e6, 1e6)
    if pick in (3, 4):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if pick == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 4))): _value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def test_web_canonical_random_values_agree() -> None:
    rng = random.Random(32905)
    texts = [json.dumps(_value(rng), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])).encode()
             for _ in range(1500)]
    _assert_agree(texts)


_EVENT = (
    '{"actor":{"id":"gas-7","key_id":"tiezheng#0011223344556677","type":"device"},"event_id":'
    '"0b7e2b43-8c4b-4c7e-9a53-2f0e6c1d9a10","kind":"detector.reading","location":{"accuracy_m":4.5,"lat":'
    '31.2304,"lon":121.4737},"occurred_at":"2026-12-01T08:00:00+08:00","payload_commitment":"'
    + "ab" * 32 + '","prev":null,"received_at":"2026-12-01T00:00:01Z","signature":"MEUCIQ==","subject":'
    '{"permit":"HW-1","worker":"张伟"},"tenant":"acme","v":1}'
).encode()


def test_web_strict_json_mutations_agree() -> None:
    rng = random.Random(32918)
    texts = [_EVENT, b"\xef\xbb\xbf" + _EVENT, b"[" * 64 + b"]" * 64, b"[" * 65 + b"]" * 65, b"[1e400]",
             b"[9007199254740991]", b"[9007199254740992]", b'["\\ud83d\\ude00"]', b'["\\ud83d"]', b'{"a":1,"a":1}',
             b"[-0]", b"[-0.0]", b"[1E2]", b"[0.0000001]", b"\xed\xa0\x80", b'"\\u00e9"', b" [] ", b"[]\x00"]
    for _ in range(2500):
        data = bytearray(_EVENT)
        for _ in range(rng.randrange(1, 3)):
            position = rng.randrange(len(data))
            action = rng.randrange(4)
            if action == 0:
                data[position] ^= 1 << rng.randrange(8)
            elif action == 1:
                data[position] = rng.choice(b'{}[]",:0123456789.eE-+\\u \x00\x80\xff')
            elif action == 2:
                del data[position]
            else:
                data.insert(position, rng.randrange(256))
        texts.append(bytes(data))
    _assert_agree(texts)
