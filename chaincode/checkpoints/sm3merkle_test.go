package checkpoints

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorsDir holds the consistency vectors the ledger writes (tests/vectors/consistency/<size>/<case>.json).
const vectorsDir = "../../tests/vectors/consistency"

func TestEmptyRoot_IsSM3OfNothing(t *testing.T) {
	// GB/T 32905 has no empty-input example; this is SM3("") as every implementation computes it.
	const want = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
	if got := hex.EncodeToString(EmptyRoot()); got != want {
		t.Fatalf("EmptyRoot() = %s, want %s", got, want)
	}
}

func TestSM3_KnownAnswer(t *testing.T) {
	// GB/T 32905-2016 Appendix A, example 1: SM3("abc").
	const want = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
	if got := hex.EncodeToString(sm3Sum([]byte("abc"))); got != want {
		t.Fatalf("SM3(abc) = %s, want %s", got, want)
	}
}

func TestLeafAndNodeHash_Prefixes(t *testing.T) {
	if got, want := LeafHash([]byte("x")), sm3Sum([]byte("\x00x")); hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("LeafHash = %x, want %x", got, want)
	}
	if got, want := NodeHash([]byte("l"), []byte("r")), sm3Sum([]byte("\x01lr")); hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("NodeHash = %x, want %x", got, want)
	}
}

func TestVerifyConsistency_AllSizesUpTo33(t *testing.T) {
	l := newTestLog(t, "example.com/log", 33)
	for n := 0; n <= 33; n++ {
		for m := 0; m <= n; m++ {
			if err := VerifyConsistency(uint64(m), uint64(n), l.root(m), l.root(n), l.proof(m, n)); err != nil {
				t.Fatalf("sizes %d -> %d: %v", m, n, err)
			}
		}
	}
}

func TestVerifyConsistency_MutationsFail(t *testing.T) {
	l := newTestLog(t, "example.com/log", 20)
	for n := 2; n <= 20; n++ {
		for m := 1; m < n; m++ {
			proof := l.proof(m, n)
			for i := range proof {
				bad := cloneHashes(proof)
				bad[i][0] ^= 1
				expectFail(t, "flipped bit", m, n, l.root(m), l.root(n), bad)
			}
			expectFail(t, "extra entry", m, n, l.root(m), l.root(n), append(cloneHashes(proof), l.root(1)))
			if len(proof) > 0 {
				expectFail(t, "missing entry", m, n, l.root(m), l.root(n), proof[:len(proof)-1])
			}
			expectFail(t, "wrong root1", m, n, l.root(m-1), l.root(n), proof)
			expectFail(t, "wrong root2", m, n, l.root(m), l.root(n-1), proof)
		}
	}
}

func TestVerifyConsistency_Preconditions(t *testing.T) {
	l := newTestLog(t, "example.com/log", 4)
	cases := []struct {
		name         string
		size1, size2 uint64
		root1, root2 []byte
		proof        [][]byte
		want         string
	}{
		{"size1 > size2", 3, 2, l.root(3), l.root(2), nil, "size1 3 is larger than size2 2"},
		{"same size, other root", 3, 3, l.root(3), l.root(2), nil, "second tree root mismatch"},
		{"same size, non-empty proof", 3, 3, l.root(3), l.root(3), [][]byte{l.root(1)}, "must be empty"},
		{"from empty, non-empty proof", 0, 3, EmptyRoot(), l.root(3), [][]byte{l.root(1)}, "must be empty"},
		{"short root", 1, 2, l.root(1)[:31], l.root(2), l.proof(1, 2), "root hash 0 has 31 bytes, want 32"},
		{"short proof hash", 1, 3, l.root(1), l.root(3), [][]byte{make([]byte, 3)}, "proof hash 0 has 3 bytes"},
		{"empty proof", 3, 4, l.root(3), l.root(4), nil, "empty proof for sizes 3 and 4"},
	}
	for _, c := range cases {
		err := VerifyConsistency(c.size1, c.size2, c.root1, c.root2, c.proof)
		if !errors.Is(err, ErrConsistencyProof) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an ErrConsistencyProof containing %q", c.name, err, c.want)
		}
	}
}

func TestVerifyConsistency_RootMismatchNamesBothRoots(t *testing.T) {
	l := newTestLog(t, "example.com/log", 8)
	err := VerifyConsistency(3, 8, l.root(3), l.root(7), l.proof(3, 8))
	var mismatch *RootMismatchError
	if !errors.As(err, &mismatch) || mismatch.Which != "second" {
		t.Fatalf("got %v, want a second-root RootMismatchError", err)
	}
	if hex.EncodeToString(mismatch.Calculated) != hex.EncodeToString(l.root(8)) {
		t.Fatalf("calculated %x, want %x", mismatch.Calculated, l.root(8))
	}
}

// consistencyVector is one file under tests/vectors/consistency.
type consistencyVector struct {
	Desc      string   `json:"desc"`
	Proof     []string `json:"proof"`
	Root1     string   `json:"root1"`
	Root2     string   `json:"root2"`
	Size1     uint64   `json:"size1"`
	Size2     uint64   `json:"size2"`
	WantError bool     `json:"want_error"`
}

func TestVerifyConsistency_SharedVectors(t *testing.T) {
	if _, err := os.Stat(vectorsDir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s does not exist yet (the ledger writes it)", vectorsDir)
	}
	count := 0
	err := filepath.WalkDir(vectorsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		count++
		t.Run(strings.TrimPrefix(path, vectorsDir+"/"), func(t *testing.T) { checkVector(t, path) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count == 0 {
		t.Fatalf("no vectors under %s", vectorsDir)
	}
}

func checkVector(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v consistencyVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	err = verifyVector(v)
	if v.WantError && err == nil {
		t.Errorf("%s: verified, want an error", v.Desc)
	} else if !v.WantError && err != nil {
		t.Errorf("%s: %v, want success", v.Desc, err)
	}
}

// verifyVector decodes a vector as the contract decodes its input and verifies it; bad hex is an error.
func verifyVector(v consistencyVector) error {
	roots, err := DecodeHashes([]string{v.Root1, v.Root2})
	if err != nil {
		return err
	}
	proof, err := DecodeHashes(v.Proof)
	if err != nil {
		return err
	}
	return VerifyConsistency(v.Size1, v.Size2, roots[0], roots[1], proof)
}

func expectFail(t *testing.T, what string, m, n int, root1, root2 []byte, proof [][]byte) {
	t.Helper()
	if err := VerifyConsistency(uint64(m), uint64(n), root1, root2, proof); !errors.Is(err, ErrConsistencyProof) {
		t.Fatalf("%s, sizes %d -> %d: got %v, want ErrConsistencyProof", what, m, n, err)
	}
}

func cloneHashes(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, h := range in {
		out[i] = append([]byte(nil), h...)
	}
	return out
}
