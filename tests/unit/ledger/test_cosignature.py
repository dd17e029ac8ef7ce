"""cosignature/v1 (C2SP tlog-cosignature, Ed25519): a pinned vector (RFC 8032 test key 1, the C2SP example
checkpoint), the verifier's independent check of the same line, and refusals."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.cosignature import CosignerKey, cosigned_message, parse_line, verify_line
from ledger.errors import InvalidSignature, MalformedInput
from verifier.checkpoint import Checkpoint
from verifier.errors import CosignatureInvalid
from verifier.trust import WitnessKey
from verifier.witness import key_id as verifier_key_id
from verifier.witness import verify_cosignatures

RFC8032_KEY_1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
NAME = "witness.example.com/w1"
BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
TIME = 1679315147
LINE = ("\u2014 witness.example.com/w1 fm9KqgAAAABkGFDL+TPmh4BYuAjsYRoqMJCWb/gWJaeRF/kmm5tlCr9sJ57DLErur7K0yDXc2ArN"
        "+TIuotuB/HbuL3AJsp3bv/aNCQ==\n")


@pytest.fixture
def key() -> CosignerKey:
    return CosignerKey(NAME, Ed25519PrivateKey.from_private_bytes(RFC8032_KEY_1))


def test_cosign_known_answer(key: CosignerKey) -> None:
    assert cosigned_message(BODY, TIME) == b"cosignature/v1\ntime 1679315147\n" + BODY
    assert key.key_id.hex() == "7e6f4aaa"
    assert key.cosign(BODY, TIME) == LINE  # Ed25519 is deterministic
    assert verify_line(LINE, BODY, name=NAME, public=key.public).timestamp == TIME


def test_verifier_checks_the_same_line_independently(key: CosignerKey) -> None:
    raw = key.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert verifier_key_id(NAME, raw) == key.key_id
    note = Checkpoint.from_text(BODY.decode() + "\n" + LINE)  # a cosignature-only note parses as a checkpoint
    witness = WitnessKey(NAME, "ed25519", key.public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    [cosigner] = verify_cosignatures(note, [witness])
    assert (cosigner.name, cosigner.timestamp) == (NAME, TIME)


def test_verify_line_every_byte_of_the_signature_flipped(key: CosignerKey) -> None:
    blob = base64.b64decode(LINE.split(" ")[2])
    for offset in range(4, len(blob)):  # timestamp and signature: past the key id
        mutated = bytearray(blob)
        mutated[offset] ^= 0x01
        line = f"\u2014 {NAME} {base64.b64encode(bytes(mutated)).decode()}\n"
        with pytest.raises(InvalidSignature, match="does not verify"):
            verify_line(line, BODY, name=NAME, public=key.public)


def test_verify_line_refuses_other_key_and_bad_shape(key: CosignerKey) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(MalformedInput, match="want 'witness.example.com/w1' key"):
        verify_line(LINE, BODY, name=NAME, public=other)
    with pytest.raises(MalformedInput, match="not a cosignature/v1 line"):
        parse_line("\u2014 w AAAA\n")
    with pytest.raises(MalformedInput, match="not base64"):
        parse_line("\u2014 w !!!\n")


def test_verifier_refuses_tampered_line_of_trusted_witness(key: CosignerKey) -> None:
    blob = bytearray(base64.b64decode(LINE.split(" ")[2]))
    blob[20] ^= 0x80
    note = Checkpoint.from_text(BODY.decode() + "\n\u2014 " + NAME + " " + base64.b64encode(bytes(blob)).decode() + "\n")
    witness = WitnessKey(NAME, "ed25519", key.public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(CosignatureInvalid, match="cosignature by witness.example.com/w1 does not verify"):
        verify_cosignatures(note, [witness])
