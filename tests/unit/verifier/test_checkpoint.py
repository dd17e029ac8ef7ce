"""Tests for verifier/checkpoint.py: strict C2SP checkpoint parsing and SM2 note signatures."""

from __future__ import annotations

import pytest
from verifier_testkit import ORIGIN, KeyPair, b64, checkpoint_text, sm3

from verifier.checkpoint import Checkpoint, key_hash, verify_checkpoint
from verifier.errors import BadSignature, KeyMismatch, MalformedInput
from verifier.sm import PublicKey

ROOT = sm3(b"root")
ROOT_B64 = b64(ROOT)
SIG_LINE = "\u2014 " + ORIGIN + " " + b64(b"\x01\x02\x03\x04" + b"sig") + "\n"


def _text(body: str, sig: str = SIG_LINE) -> str:
    return body + "\n" + sig


# Parsing


def test_from_text_reads_fields(log_key: KeyPair) -> None:
    text = checkpoint_text(log_key, 42, ROOT)
    cp = Checkpoint.from_text(text)
    assert (cp.origin, cp.tree_size, cp.root_hash, cp.text) == (ORIGIN, 42, ROOT, text)
    assert cp.body == f"{ORIGIN}\n42\n{ROOT_B64}\n".encode()
    assert cp.signatures[0].name == ORIGIN
    assert cp.signatures[0].key_hash == key_hash(ORIGIN, PublicKey.from_pem(log_key.pem))


def test_from_text_size_zero() -> None:
    assert Checkpoint.from_text(_text(f"o\n0\n{ROOT_B64}\n")).tree_size == 0


def test_from_text_several_signature_lines() -> None:
    cp = Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", SIG_LINE + SIG_LINE.replace(ORIGIN, "witness")))
    assert [s.name for s in cp.signatures] == [ORIGIN, "witness"]


def test_from_text_missing_blank_line() -> None:
    with pytest.raises(MalformedInput, match="missing blank line between body and signatures"):
        Checkpoint.from_text(f"o\n1\n{ROOT_B64}\n" + SIG_LINE)


def test_from_text_extension_line_refused() -> None:
    with pytest.raises(MalformedInput, match="want 3 body lines, got 4"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\nextension\n"))


def test_from_text_missing_root_line() -> None:
    with pytest.raises(MalformedInput, match="want 3 body lines, got 2"):
        Checkpoint.from_text(_text("o\n1\n"))


def test_from_text_empty_origin() -> None:
    with pytest.raises(MalformedInput, match="empty origin line"):
        Checkpoint.from_text(_text(f"\n1\n{ROOT_B64}\n"))


@pytest.mark.parametrize(
    "size", ["01", "00", "-1", "+1", "1.0", "one", " 1", "\u0661", "18446744073709551616"]
)
def test_from_text_bad_size(size: str) -> None:
    with pytest.raises(MalformedInput, match="invalid tree size"):
        Checkpoint.from_text(_text(f"o\n{size}\n{ROOT_B64}\n"))


def test_from_text_empty_size_line_ends_the_body() -> None:
    with pytest.raises(MalformedInput, match="want 3 body lines, got 1"):
        Checkpoint.from_text(_text(f"o\n\n{ROOT_B64}\n"))


def test_from_text_leading_zeros() -> None:
    with pytest.raises(MalformedInput, match=r"invalid tree size '007', want decimal without leading zeros"):
        Checkpoint.from_text(_text(f"o\n007\n{ROOT_B64}\n"))


def test_from_text_very_long_size() -> None:
    with pytest.raises(MalformedInput, match="invalid tree size"):
        Checkpoint.from_text(_text(f"o\n{'9' * 5000}\n{ROOT_B64}\n"))


def test_from_text_bad_base64_root() -> None:
    with pytest.raises(MalformedInput, match="root hash is not standard base64"):
        Checkpoint.from_text(_text("o\n1\n!!notbase64!!\n"))


def test_from_text_unpadded_root() -> None:
    with pytest.raises(MalformedInput, match="root hash is not standard base64"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64.rstrip('=')}\n"))


def test_from_text_url_safe_root() -> None:
    root = b"\xfb" * 32
    with pytest.raises(MalformedInput, match="root hash is not standard base64"):
        Checkpoint.from_text(_text(f"o\n1\n{b64(root).replace('+', '-')}\n"))


def test_from_text_short_root() -> None:
    with pytest.raises(MalformedInput, match="root hash is 31 bytes, want 32"):
        Checkpoint.from_text(_text(f"o\n1\n{b64(ROOT[:31])}\n"))


def test_from_text_no_signature_lines() -> None:
    with pytest.raises(MalformedInput, match="want one or more signature lines"):
        Checkpoint.from_text(f"o\n1\n{ROOT_B64}\n\n")


def test_from_text_missing_final_newline() -> None:
    with pytest.raises(MalformedInput, match="each ending in a newline"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", SIG_LINE.rstrip("\n")))


def test_from_text_signature_line_without_em_dash() -> None:
    with pytest.raises(MalformedInput, match="signature line must start with an em dash"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", SIG_LINE.replace("\u2014", "-")))


def test_from_text_extra_blank_line_before_signatures() -> None:
    with pytest.raises(MalformedInput, match="signature line must start with an em dash"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", "\n" + SIG_LINE))


def test_from_text_signature_line_missing_name() -> None:
    with pytest.raises(MalformedInput, match="want '— <key name> <base64>'"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", "\u2014 " + b64(b"12345") + "\n"))


def test_from_text_signature_name_with_plus() -> None:
    with pytest.raises(MalformedInput, match="want '— <key name> <base64>'"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", SIG_LINE.replace(ORIGIN, "a+b")))


def test_from_text_signature_bad_base64() -> None:
    with pytest.raises(MalformedInput, match="signature is not standard base64"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", "\u2014 o abc*\n"))


def test_from_text_signature_too_short() -> None:
    with pytest.raises(MalformedInput, match="signature too short: got 4 bytes, want > 4"):
        Checkpoint.from_text(_text(f"o\n1\n{ROOT_B64}\n", f"\u2014 o {b64(b'1234')}\n"))


def test_from_text_carriage_return_refused() -> None:
    with pytest.raises(MalformedInput, match="control character in note text"):
        Checkpoint.from_text(_text(f"o\r\n1\n{ROOT_B64}\n"))


# Verification


def test_verify_checkpoint_by_log_key(log_key: KeyPair) -> None:
    verify_checkpoint(Checkpoint.from_text(checkpoint_text(log_key, 7, ROOT)), public_key_pem=log_key.pem)


def test_verify_checkpoint_ignores_witness_lines(log_key: KeyPair, other_key: KeyPair) -> None:
    witness = checkpoint_text(other_key, 7, ROOT, origin="witness.example").splitlines()[-1]
    text = checkpoint_text(log_key, 7, ROOT, extra_lines=witness + "\n")
    verify_checkpoint(Checkpoint.from_text(text), public_key_pem=log_key.pem)


def test_verify_checkpoint_wrong_key(log_key: KeyPair, other_key: KeyPair) -> None:
    cp = Checkpoint.from_text(checkpoint_text(log_key, 7, ROOT))
    wanted = key_hash(ORIGIN, PublicKey.from_pem(other_key.pem)).hex()
    with pytest.raises(
        KeyMismatch, match=f"no signature by the log key: want {ORIGIN} {wanted}, got {ORIGIN} "
    ):
        verify_checkpoint(cp, public_key_pem=other_key.pem)


def test_verify_checkpoint_key_name_is_not_origin(log_key: KeyPair) -> None:
    text = checkpoint_text(log_key, 7, ROOT)
    body, sig = text.split("\n\n")
    with pytest.raises(KeyMismatch, match="no signature by the log key"):
        verify_checkpoint(
            Checkpoint.from_text(body + "\n\n" + sig.replace(ORIGIN, "other")), public_key_pem=log_key.pem
        )


def test_verify_checkpoint_tampered_size(log_key: KeyPair) -> None:
    text = checkpoint_text(log_key, 7, ROOT).replace("\n7\n", "\n8\n", 1)
    with pytest.raises(BadSignature, match="checkpoint signature does not verify"):
        verify_checkpoint(Checkpoint.from_text(text), public_key_pem=log_key.pem)


def test_verify_checkpoint_tampered_root(log_key: KeyPair) -> None:
    text = checkpoint_text(log_key, 7, ROOT).replace(ROOT_B64, b64(sm3(b"other")))
    with pytest.raises(BadSignature, match="checkpoint signature does not verify"):
        verify_checkpoint(Checkpoint.from_text(text), public_key_pem=log_key.pem)


def test_verify_checkpoint_second_matching_line_bad(log_key: KeyPair) -> None:
    text = checkpoint_text(log_key, 7, ROOT)
    good = text.splitlines()[-1]
    blob_b64 = good.split(" ")[-1]
    bad = good.replace(blob_b64, b64(key_hash(ORIGIN, PublicKey.from_pem(log_key.pem)) + b"\x30\x00"))
    with pytest.raises(BadSignature, match="checkpoint signature does not verify"):
        verify_checkpoint(Checkpoint.from_text(text + bad + "\n"), public_key_pem=log_key.pem)


def test_verify_checkpoint_bad_pem(log_key: KeyPair) -> None:
    cp = Checkpoint.from_text(checkpoint_text(log_key, 7, ROOT))
    with pytest.raises(MalformedInput, match="not one pem block"):
        verify_checkpoint(cp, public_key_pem="not a key")


def test_key_hash_is_sm3_of_name_newline_spki(log_key: KeyPair) -> None:
    assert key_hash("log", PublicKey.from_pem(log_key.pem)) == sm3(b"log\n" + log_key.der)[:4]
