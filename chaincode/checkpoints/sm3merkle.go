// Merkle tree hashing and consistency-proof verification of RFC 9162 §2.1 with SM3 in place of SHA-256.
//
// This is the chaincode's only hashing module: the leaf and node prefixes (0x00, 0x01), SM3 itself and the
// empty-tree root live here and nowhere else (docs/formats.md, "Merkle log").

package checkpoints

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"

	"github.com/emmansun/gmsm/sm3"
)

// HashSize is the size of an SM3 digest and so of every tree hash.
const HashSize = sm3.Size

const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// ErrConsistencyProof is the base of every consistency-proof failure.
var ErrConsistencyProof = errors.New("consistency proof does not verify")

// RootMismatchError says that a root calculated from a proof is not the root that was expected.
type RootMismatchError struct {
	Calculated []byte
	Expected   []byte
	Which      string // "first" or "second" tree
}

func (e *RootMismatchError) Error() string {
	return fmt.Sprintf("%s tree root mismatch: calculated %x, want %x", e.Which, e.Calculated, e.Expected)
}

// Unwrap lets errors.Is(err, ErrConsistencyProof) hold for a mismatch.
func (e *RootMismatchError) Unwrap() error { return ErrConsistencyProof }

// sm3Sum returns SM3(data).
func sm3Sum(data []byte) []byte {
	sum := sm3.Sum(data)
	return sum[:]
}

// EmptyRoot returns the root of the empty tree, SM3 of no bytes.
func EmptyRoot() []byte { return sm3Sum(nil) }

// LeafHash returns SM3(0x00 || leaf).
func LeafHash(leaf []byte) []byte {
	return sm3Sum(append([]byte{leafPrefix}, leaf...))
}

// NodeHash returns SM3(0x01 || left || right).
func NodeHash(left, right []byte) []byte {
	buf := make([]byte, 0, 1+len(left)+len(right))
	buf = append(append(append(buf, nodePrefix), left...), right...)
	return sm3Sum(buf)
}

// RootsFromConsistencyProof runs the RFC 9162 §2.1.4.2 algorithm and returns the roots of the first and the
// second tree that the proof implies, starting from root1 (the trusted root of the first tree).
//
// Requires 0 < size1 < size2 and every proof entry HashSize bytes long; it fails otherwise, and when the
// proof has the wrong number of entries for the two sizes.
func RootsFromConsistencyProof(size1, size2 uint64, root1 []byte, proof [][]byte) ([]byte, []byte, error) {
	if size1 == 0 || size1 >= size2 {
		return nil, nil, fmt.Errorf("%w: sizes must satisfy 0 < size1 < size2, got %d and %d",
			ErrConsistencyProof, size1, size2)
	}
	if err := checkHashes(proof); err != nil {
		return nil, nil, fmt.Errorf("%w: proof %w", ErrConsistencyProof, err)
	}
	// 1. The first tree is never a complete subtree of the second unless it is a power of two, in which
	//    case its root starts the path.
	path := proof
	if size1&(size1-1) == 0 {
		path = append([][]byte{root1}, proof...)
	}
	if len(path) == 0 {
		return nil, nil, fmt.Errorf("%w: empty proof for sizes %d and %d", ErrConsistencyProof, size1, size2)
	}
	// 2. Walk from the node that holds the last leaf of the first tree.
	fn, sn := size1-1, size2-1
	shift := bits.TrailingZeros64(^fn)
	fn, sn = fn>>shift, sn>>shift
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		// 3. A proof longer than the path to the second root is refused.
		if sn == 0 {
			return nil, nil, fmt.Errorf("%w: proof has %d entries, too many for sizes %d and %d",
				ErrConsistencyProof, len(proof), size1, size2)
		}
		if fn&1 == 1 || fn == sn {
			fr, sr = NodeHash(c, fr), NodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn, sn = fn>>1, sn>>1
	}
	// 4. A proof that stops before the second root is refused too.
	if sn != 0 {
		return nil, nil, fmt.Errorf("%w: proof has %d entries, too few for sizes %d and %d",
			ErrConsistencyProof, len(proof), size1, size2)
	}
	return fr, sr, nil
}

// VerifyConsistency checks that the tree of size2 with root root2 extends the tree of size1 with root1,
// using an RFC 9162 §2.1.4 consistency proof (list of node hashes).
//
// size1 == 0: every tree extends the empty tree; the proof must be empty.
// size1 == size2: the proof must be empty and the roots equal.
// size1 > size2: always refused.
// Returns nil on success; otherwise an error wrapping ErrConsistencyProof (a *RootMismatchError when a
// calculated root differs from the given one).
func VerifyConsistency(size1, size2 uint64, root1, root2 []byte, proof [][]byte) error {
	if err := checkHashes([][]byte{root1, root2}); err != nil {
		return fmt.Errorf("%w: root %w", ErrConsistencyProof, err)
	}
	switch {
	case size1 > size2:
		return fmt.Errorf("%w: size1 %d is larger than size2 %d", ErrConsistencyProof, size1, size2)
	case size1 == size2 || size1 == 0:
		if len(proof) != 0 {
			return fmt.Errorf("%w: proof for sizes %d and %d must be empty, got %d entries",
				ErrConsistencyProof, size1, size2, len(proof))
		}
		if size1 == size2 && !bytes.Equal(root1, root2) {
			return &RootMismatchError{Calculated: root2, Expected: root1, Which: "second"}
		}
		return nil
	}
	calc1, calc2, err := RootsFromConsistencyProof(size1, size2, root1, proof)
	if err != nil {
		return err
	}
	if !bytes.Equal(calc1, root1) {
		return &RootMismatchError{Calculated: calc1, Expected: root1, Which: "first"}
	}
	if !bytes.Equal(calc2, root2) {
		return &RootMismatchError{Calculated: calc2, Expected: root2, Which: "second"}
	}
	return nil
}

// DecodeHashes decodes lower- or upper-case hex tree hashes; each must be HashSize bytes.
func DecodeHashes(hexes []string) ([][]byte, error) {
	out := make([][]byte, len(hexes))
	for i, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("hash %d is not hex: %w", i, err)
		}
		out[i] = b
	}
	if err := checkHashes(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkHashes refuses any hash that is not HashSize bytes long.
func checkHashes(hashes [][]byte) error {
	for i, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("hash %d has %d bytes, want %d", i, len(h), HashSize)
		}
	}
	return nil
}
