"""Tests for verifier/merkle.py against a reference RFC 9162 tree built in verifier_testkit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verifier_testkit import leaves_for, ref_consistency, ref_inclusion, ref_root, sm3

from verifier.errors import InvalidProof, RootMismatch
from verifier.merkle import (
    consistency_proof_length,
    inclusion_proof_length,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

LEAVES = leaves_for(17)
EMPTY = sm3(b"")


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 1]) + changed[i][1:]
    return changed


# Inclusion: valid proofs


@pytest.mark.parametrize("size", range(1, 18))
def test_verify_inclusion_every_leaf_of_small_trees(size: int) -> None:
    leaves = LEAVES[:size]
    for index in range(size):
        verify_inclusion(index, size, leaves[index], ref_inclusion(index, leaves), ref_root(leaves))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))
)
def test_root_from_inclusion_proof_matches_reference(case: tuple[int, int]) -> None:
    size, index = case
    leaves = leaves_for(size, seed="h")
    proof = ref_inclusion(index, leaves)
    assert inclusion_proof_length(index, size) == len(proof)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == ref_root(leaves)


def test_verify_inclusion_single_leaf_tree_has_empty_proof() -> None:
    verify_inclusion(0, 1, LEAVES[0], [], LEAVES[0])


# Inclusion: failures


def test_verify_inclusion_tampered_proof_every_position() -> None:
    leaves = LEAVES[:13]
    proof = ref_inclusion(6, leaves)
    for i in range(len(proof)):
        with pytest.raises(RootMismatch, match="^root mismatch: calculated [0-9a-f]{64}, want [0-9a-f]{64}$"):
            verify_inclusion(6, 13, leaves[6], _flip(proof, i), ref_root(leaves))


def test_verify_inclusion_wrong_leaf_hash() -> None:
    leaves = LEAVES[:8]
    with pytest.raises(RootMismatch, match=f"want {ref_root(leaves).hex()}"):
        verify_inclusion(3, 8, leaves[4], ref_inclusion(3, leaves), ref_root(leaves))


def test_verify_inclusion_wrong_index_same_length() -> None:
    leaves = LEAVES[:8]
    with pytest.raises(RootMismatch, match="root mismatch"):
        verify_inclusion(2, 8, leaves[3], ref_inclusion(3, leaves), ref_root(leaves))


def test_verify_inclusion_proof_for_other_tree_size() -> None:
    # A path for leaf 2 of the 7-leaf tree has the length of one for the 8-leaf tree, but not its root.
    assert inclusion_proof_length(2, 7) == inclusion_proof_length(2, 8)
    with pytest.raises(
        RootMismatch, match=f"calculated {ref_root(LEAVES[:7]).hex()}, want {ref_root(LEAVES[:8]).hex()}"
    ):
        verify_inclusion(2, 8, LEAVES[2], ref_inclusion(2, LEAVES[:7]), ref_root(LEAVES[:8]))


def test_verify_inclusion_wrong_tree_size_other_length() -> None:
    leaves = LEAVES[:5]
    with pytest.raises(InvalidProof, match="wrong proof length: got 3 hashes, want 1"):
        verify_inclusion(4, 5, leaves[4], ref_inclusion(4, leaves) + [EMPTY] * 2, ref_root(leaves))


def test_root_mismatch_carries_both_roots() -> None:
    leaves = LEAVES[:4]
    with pytest.raises(RootMismatch) as info:
        verify_inclusion(1, 4, leaves[1], ref_inclusion(1, leaves), EMPTY)
    assert info.value.expected == EMPTY
    assert info.value.calculated == ref_root(leaves)


def test_root_from_inclusion_proof_index_equals_size() -> None:
    with pytest.raises(InvalidProof, match=r"leaf index out of range: got 5, want 0 <= index < 5"):
        root_from_inclusion_proof(5, 5, LEAVES[0], [])


def test_root_from_inclusion_proof_negative_index() -> None:
    with pytest.raises(InvalidProof, match=r"leaf index out of range: got -1, want 0 <= index < 5"):
        root_from_inclusion_proof(-1, 5, LEAVES[0], [])


def test_root_from_inclusion_proof_empty_tree() -> None:
    with pytest.raises(InvalidProof, match=r"leaf index out of range: got 0, want 0 <= index < 0"):
        root_from_inclusion_proof(0, 0, LEAVES[0], [])


def test_root_from_inclusion_proof_truncated() -> None:
    proof = ref_inclusion(3, LEAVES[:8])
    with pytest.raises(InvalidProof, match="wrong proof length: got 2 hashes, want 3"):
        root_from_inclusion_proof(3, 8, LEAVES[3], proof[:-1])


def test_root_from_inclusion_proof_appended() -> None:
    proof = ref_inclusion(3, LEAVES[:8])
    with pytest.raises(InvalidProof, match="wrong proof length: got 4 hashes, want 3"):
        root_from_inclusion_proof(3, 8, LEAVES[3], [*proof, EMPTY])


def test_root_from_inclusion_proof_prepended() -> None:
    proof = ref_inclusion(3, LEAVES[:8])
    with pytest.raises(InvalidProof, match="wrong proof length: got 4 hashes, want 3"):
        root_from_inclusion_proof(3, 8, LEAVES[3], [EMPTY, *proof])


def test_root_from_inclusion_proof_short_proof_hash() -> None:
    proof = ref_inclusion(3, LEAVES[:8])
    with pytest.raises(InvalidProof, match="proof hash 1 has wrong length: got 31 bytes, want 32"):
        root_from_inclusion_proof(3, 8, LEAVES[3], [proof[0], proof[1][:31], proof[2]])


def test_root_from_inclusion_proof_short_leaf_hash() -> None:
    with pytest.raises(InvalidProof, match="leaf hash has wrong length: got 3 bytes, want 32"):
        root_from_inclusion_proof(0, 1, b"abc", [])


def test_verify_inclusion_short_root() -> None:
    with pytest.raises(InvalidProof, match="root has wrong length: got 0 bytes, want 32"):
        verify_inclusion(0, 1, LEAVES[0], [], b"")


# Consistency: valid proofs


@pytest.mark.parametrize("size2", range(1, 18))
def test_verify_consistency_every_prefix_of_small_trees(size2: int) -> None:
    leaves = LEAVES[:size2]
    for size1 in range(1, size2 + 1):
        proof = ref_consistency(size1, leaves)
        verify_consistency(size1, size2, ref_root(leaves[:size1]), ref_root(leaves), proof)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=2, max_value=300).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n)))
)
def test_root_from_consistency_proof_matches_reference(case: tuple[int, int]) -> None:
    size1, size2 = case
    leaves = leaves_for(size2, seed="c")
    proof = ref_consistency(size1, leaves)
    assert consistency_proof_length(size1, size2) == len(proof)
    assert root_from_consistency_proof(size1, size2, ref_root(leaves[:size1]), proof) == ref_root(leaves)


def test_verify_consistency_equal_sizes_empty_proof() -> None:
    root = ref_root(LEAVES[:5])
    verify_consistency(5, 5, root, root, [])


def test_verify_consistency_from_empty_tree() -> None:
    verify_consistency(0, 9, EMPTY, ref_root(LEAVES[:9]), [])


def test_verify_consistency_empty_to_empty() -> None:
    verify_consistency(0, 0, EMPTY, EMPTY, [])


# Consistency: failures


def test_verify_consistency_tampered_proof_every_position() -> None:
    leaves = LEAVES[:15]
    proof = ref_consistency(6, leaves)
    for i in range(len(proof)):
        with pytest.raises(
            RootMismatch, match="^(first|second) root mismatch: calculated [0-9a-f]{64}, want"
        ):
            verify_consistency(6, 15, ref_root(leaves[:6]), ref_root(leaves), _flip(proof, i))


def test_verify_consistency_wrong_first_root() -> None:
    leaves = LEAVES[:11]
    with pytest.raises(RootMismatch, match=f"first root mismatch: calculated {ref_root(leaves[:6]).hex()}"):
        verify_consistency(6, 11, EMPTY, ref_root(leaves), ref_consistency(6, leaves))


def test_verify_consistency_wrong_first_root_power_of_two() -> None:
    leaves = LEAVES[:11]
    with pytest.raises(
        RootMismatch, match=f"second root mismatch: calculated [0-9a-f]{{64}}, want {ref_root(leaves).hex()}"
    ):
        verify_consistency(4, 11, EMPTY, ref_root(leaves), ref_consistency(4, leaves))


def test_verify_consistency_wrong_second_root() -> None:
    leaves = LEAVES[:11]
    with pytest.raises(RootMismatch, match=f"second root mismatch: calculated {ref_root(leaves).hex()}"):
        verify_consistency(6, 11, ref_root(leaves[:6]), EMPTY, ref_consistency(6, leaves))


def test_verify_consistency_swapped_sizes() -> None:
    with pytest.raises(
        InvalidProof, match="tree sizes out of order: got size1=5 size2=4, want 0 <= size1 <= size2"
    ):
        verify_consistency(5, 4, EMPTY, EMPTY, [])


def test_verify_consistency_negative_size() -> None:
    with pytest.raises(InvalidProof, match="tree sizes out of order: got size1=-1 size2=4"):
        verify_consistency(-1, 4, EMPTY, EMPTY, [])


def test_verify_consistency_equal_sizes_non_empty_proof() -> None:
    root = ref_root(LEAVES[:5])
    with pytest.raises(InvalidProof, match="wrong proof length: got 1 hashes, want 0"):
        verify_consistency(5, 5, root, root, [root])


def test_verify_consistency_equal_sizes_different_roots() -> None:
    with pytest.raises(RootMismatch, match=f"second root mismatch: calculated {EMPTY.hex()}"):
        verify_consistency(5, 5, EMPTY, ref_root(LEAVES[:5]), [])


def test_verify_consistency_from_empty_tree_non_empty_proof() -> None:
    with pytest.raises(InvalidProof, match="wrong proof length: got 1 hashes, want 0"):
        verify_consistency(0, 3, EMPTY, ref_root(LEAVES[:3]), [EMPTY])


def test_verify_consistency_from_empty_tree_wrong_first_root() -> None:
    with pytest.raises(
        RootMismatch, match=f"empty tree root mismatch: calculated {LEAVES[0].hex()}, want {EMPTY.hex()}"
    ):
        verify_consistency(0, 3, LEAVES[0], ref_root(LEAVES[:3]), [])


def test_verify_consistency_empty_to_empty_wrong_second_root() -> None:
    with pytest.raises(RootMismatch, match="empty tree root mismatch"):
        verify_consistency(0, 0, EMPTY, LEAVES[0], [])


def test_root_from_consistency_proof_from_empty_tree() -> None:
    with pytest.raises(InvalidProof, match="from an empty tree does not determine the second root"):
        root_from_consistency_proof(0, 3, EMPTY, [])


def test_root_from_consistency_proof_empty_proof() -> None:
    with pytest.raises(InvalidProof, match="wrong proof length: got 0 hashes, want 3"):
        root_from_consistency_proof(3, 4, ref_root(LEAVES[:3]), [])


def test_root_from_consistency_proof_truncated() -> None:
    proof = ref_consistency(6, LEAVES[:15])
    with pytest.raises(
        InvalidProof, match=f"wrong proof length: got {len(proof) - 1} hashes, want {len(proof)}"
    ):
        root_from_consistency_proof(6, 15, ref_root(LEAVES[:6]), proof[:-1])


def test_root_from_consistency_proof_appended() -> None:
    proof = ref_consistency(6, LEAVES[:15])
    with pytest.raises(
        InvalidProof, match=f"wrong proof length: got {len(proof) + 1} hashes, want {len(proof)}"
    ):
        root_from_consistency_proof(6, 15, ref_root(LEAVES[:6]), [*proof, EMPTY])


def test_verify_consistency_proof_for_other_tree_size() -> None:
    assert consistency_proof_length(3, 7) == consistency_proof_length(3, 8)
    with pytest.raises(RootMismatch, match=f"second root mismatch: calculated {ref_root(LEAVES[:7]).hex()}"):
        verify_consistency(3, 8, ref_root(LEAVES[:3]), ref_root(LEAVES[:8]), ref_consistency(3, LEAVES[:7]))


def test_root_from_consistency_proof_short_root1() -> None:
    with pytest.raises(InvalidProof, match="root1 has wrong length: got 4 bytes, want 32"):
        root_from_consistency_proof(3, 7, b"abcd", [])


def test_verify_consistency_short_root2() -> None:
    with pytest.raises(InvalidProof, match="root2 has wrong length: got 4 bytes, want 32"):
        verify_consistency(3, 7, EMPTY, b"abcd", [])


def test_root_from_consistency_proof_short_proof_hash() -> None:
    proof = ref_consistency(3, LEAVES[:7])
    with pytest.raises(InvalidProof, match="proof hash 0 has wrong length: got 1 bytes, want 32"):
        root_from_consistency_proof(3, 7, ref_root(LEAVES[:3]), [b"x", *proof[1:]])
