"""Offline decoding of signed EVM transactions (``verifier.evm_tx``, ``verifier.secp256k1``, RLP
``decode``): the sender recovered from transactions signed by eth-account (an independent implementation)
for each envelope the registry's operators may send, and every malformed or replayable one refused."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from verifier.evm_tx import decode_transaction
from verifier.rlp import decode, encode, encode_int
from verifier.secp256k1 import N, recover_public_key

TO = Web3.to_checksum_address("0x" + "ab" * 20)
ACCOUNT = Account.from_key("0x" + "4c" * 32)
TRANSACTIONS = {
    "eip-1559": {"chainId": 31337, "nonce": 7, "to": TO, "value": 0, "data": "0x1234", "gas": 100_000,
                 "maxFeePerGas": 3, "maxPriorityFeePerGas": 1},
    "legacy eip-155": {"chainId": 1, "nonce": 0, "to": TO, "value": 5, "data": "0x", "gas": 21_000, "gasPrice": 10},
    "eip-2930": {"chainId": 5, "nonce": 1, "to": TO, "value": 0, "data": "0x", "gas": 30_000, "gasPrice": 10,
                 "accessList": [{"address": TO, "storageKeys": ["0x" + "00" * 32]}]},
}


def _raw(tx: dict[str, Any]) -> bytes:
    return bytes(ACCOUNT.sign_transaction(tx).raw_transaction)


@pytest.mark.parametrize("name", TRANSACTIONS)
def test_decode_transaction_recovers_the_sender(name: str) -> None:
    tx = TRANSACTIONS[name]
    decoded = decode_transaction(_raw(tx))
    assert decoded.sender == ACCOUNT.address.lower()
    assert (decoded.chain_id, decoded.nonce, decoded.to, decoded.value, decoded.data) == (
        tx["chainId"], tx["nonce"], bytes.fromhex("ab" * 20), tx["value"], bytes.fromhex(tx["data"][2:]))


def test_decode_transaction_other_signature_other_sender() -> None:
    raw = bytearray(_raw(TRANSACTIONS["eip-1559"]))
    fields = decode(bytes(raw[1:]))
    fields[2] = encode_int(2)  # another priority fee: same signature, another signed message
    assert decode_transaction(b"\x02" + encode(fields)).sender != ACCOUNT.address.lower()


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda f: f[:-1], "type 0x2 transaction must be an rlp list of 12 fields"),
    (lambda f: [*f[:-1], encode_int(N - 1)], "recovers no secp256k1 key"),  # high s
    (lambda f: [*f[:-3], encode_int(2), *f[-2:]], "recovers no secp256k1 key"),  # recovery id 2
    (lambda f: [*f[:5], b"\x01" * 19, *f[6:]], "destination must be 20 bytes"),
    (lambda f: [*f[:8], b"", *f[9:]], "access list must be an rlp list"),
    (lambda f: [b"\x00\x01", *f[1:]], "chain id is not a minimal rlp integer"),
])
def test_decode_transaction_refuses(mutate: Any, match: str) -> None:
    fields = decode(_raw(TRANSACTIONS["eip-1559"])[1:])
    with pytest.raises(ValueError, match=match):
        decode_transaction(b"\x02" + encode(mutate(fields)))


def test_decode_transaction_refuses_pre_eip155_and_unknown_types() -> None:
    fields = decode(_raw(TRANSACTIONS["legacy eip-155"]))
    with pytest.raises(ValueError, match="v 27 has no eip-155 chain id"):
        decode_transaction(encode([*fields[:6], encode_int(27), *fields[7:]]))
    with pytest.raises(ValueError, match="transaction type 0x3 is not one"):
        decode_transaction(b"\x03" + encode([]))
    with pytest.raises(ValueError, match="raw transaction is 0 bytes"):
        decode_transaction(b"")
    with pytest.raises(ValueError, match="rlp has 1 bytes after its item"):
        decode_transaction(_raw(TRANSACTIONS["legacy eip-155"]) + b"\x00")


def _nested(depth: int) -> list[Any]:
    item: list[Any] = []
    for _ in range(depth):
        item = [item]
    return item


@pytest.mark.parametrize(("data", "match"), [
    (b"\x81\x05", "single byte below 0x80"),
    (b"\xb8\x05abcde", "long length used for fewer than 56 bytes"),
    (b"\xb9\x00\x40" + b"a" * 64, "leading zeros"),
    (b"\x83ab", "longer than the data"),
    (b"\xc1" * 40 + b"\x80", "longer than the data"),
    (encode(_nested(16)), "nest deeper than 16"),  # 17 lists
])
def test_rlp_decode_refuses_non_canonical(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decode(data)


def test_rlp_decode_nesting_limit_is_16() -> None:
    assert decode(encode(_nested(15))) == _nested(15)  # 16 lists


def test_recover_public_key_bounds() -> None:
    assert recover_public_key(b"\x00" * 32, 0, 1, 0) is None
    assert recover_public_key(b"\x00" * 32, 1, N // 2 + 1, 0) is None
    assert recover_public_key(b"\x00" * 31, 1, 1, 0) is None
