"""C2SP checkpoints signed with SM2: round trip, the independent verifier accepts them, and refusals."""

from __future__ import annotations

import pytest

from ledger.checkpoint import Checkpoint, SignedCheckpoint
from ledger.errors import InvalidSignature, MalformedInput
from ledger.sm import Signer, SM2PrivateKey
from verifier.checkpoint import Checkpoint as IndependentCheckpoint
from verifier.checkpoint import verify_checkpoint


def test_sign_parse_verify_round_trip() -> None:
    key = SM2PrivateKey.generate()
    signed = Checkpoint("tiezheng.example/log", 42, bytes(range(32))).sign(Signer.from_private_key(key))
    parsed = SignedCheckpoint.from_text(signed.text)
    parsed.verify(key.public)
    assert parsed.checkpoint == signed.checkpoint


def test_signed_checkpoint_passes_the_independent_verifier() -> None:
    key = SM2PrivateKey.generate()
    signed = Checkpoint("tiezheng.example/log", 7, bytes(32)).sign(Signer.from_private_key(key))
    verify_checkpoint(IndependentCheckpoint.from_text(signed.text), public_key_pem=key.public.to_pem())


def test_verify_other_key_fails() -> None:
    signed = Checkpoint("o/log", 1, bytes(32)).sign(Signer.from_private_key(SM2PrivateKey.generate()))
    with pytest.raises(InvalidSignature, match="no signature by key"):
        signed.verify(SM2PrivateKey.generate().public)


@pytest.mark.parametrize("origin", ["", "two words", "a+b", "line\nbreak"])
def test_checkpoint_origin_must_be_a_key_name(origin: str) -> None:
    with pytest.raises(MalformedInput, match="no spaces or '\\+'"):
        Checkpoint(origin, 1, bytes(32))


@pytest.mark.parametrize(("text", "message"), [
    ("o/log\n01\nAAAA\n\n— o/log x\n", "invalid tree size"),
    ("o/log\n1\n\n— o/log x\n", "want 3 body lines"),
    ("o/log\n1\n!!!\n\n— o/log x\n", "not base64"),
])
def test_from_text_malformed(text: str, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        SignedCheckpoint.from_text(text)
