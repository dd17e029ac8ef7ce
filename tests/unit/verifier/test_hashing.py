"""Tests for verifier/hashing.py: RFC 9162 leaf, node and empty-tree hashes over SM3."""

from __future__ import annotations

from verifier_testkit import sm3

from verifier.hashing import HASH_SIZE, empty_root, leaf_hash, node_hash


def test_empty_root_is_sm3_of_empty_string() -> None:
    assert empty_root().hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"


def test_leaf_hash_prefixes_zero_byte() -> None:
    assert leaf_hash(b"abc") == sm3(b"\x00abc")


def test_leaf_hash_of_empty_leaf() -> None:
    assert leaf_hash(b"") == sm3(b"\x00")


def test_node_hash_prefixes_one_byte() -> None:
    left, right = sm3(b"l"), sm3(b"r")
    assert node_hash(left, right) == sm3(b"\x01" + left + right)


def test_node_hash_order_matters() -> None:
    left, right = sm3(b"l"), sm3(b"r")
    assert node_hash(left, right) != node_hash(right, left)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = sm3(b"l"), sm3(b"r")
    assert leaf_hash(b"\x01" + left + right) != node_hash(left, right)


def test_hash_size_is_32() -> None:
    assert HASH_SIZE == len(leaf_hash(b"x")) == len(empty_root()) == 32
