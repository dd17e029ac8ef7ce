package checkpoints

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// testLog is a reference log for tests: leaves, an SM2 key, and the RFC 9162 §2.1 definitions of the tree
// head and of consistency proofs, written recursively as the RFC states them.
type testLog struct {
	key    *sm2.PrivateKey
	leaves [][]byte
	origin string
	pemKey string
}

func newTestLog(t *testing.T, origin string, size int) *testLog {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := smx509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{key: key, origin: origin, pemKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
	for i := 0; i < size; i++ {
		l.leaves = append(l.leaves, []byte(fmt.Sprintf(`{"event":%d}`, i)))
	}
	return l
}

// mth is MTH(D[n]) of RFC 9162 §2.1.1.
func mth(d [][]byte) []byte {
	switch len(d) {
	case 0:
		return EmptyRoot()
	case 1:
		return LeafHash(d[0])
	}
	k := splitPoint(len(d))
	return NodeHash(mth(d[:k]), mth(d[k:]))
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// subproof is SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
func subproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{mth(d)}
	}
	k := splitPoint(n)
	if m <= k {
		return append(subproof(m, d[:k], b), mth(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), mth(d[:k]))
}

func (l *testLog) root(n int) []byte { return mth(l.leaves[:n]) }

// proof returns PROOF(m, D[n]); empty for m == 0 or m == n.
func (l *testLog) proof(m, n int) [][]byte {
	if m == 0 {
		return nil
	}
	return subproof(m, l.leaves[:n], true)
}

// proofJSON returns the proof from m to n as the JSON the contract takes.
func (l *testLog) proofJSON(m, n int) string {
	hexes := []string{}
	for _, h := range l.proof(m, n) {
		hexes = append(hexes, hex.EncodeToString(h))
	}
	data, _ := json.Marshal(hexes)
	return string(data)
}

// body returns the note body of a checkpoint for size n with root.
func (l *testLog) body(n int, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", l.origin, n, base64.StdEncoding.EncodeToString(root))
}

// sign returns the checkpoint text for body signed by key under the log's origin.
func (l *testLog) sign(t *testing.T, key *sm2.PrivateKey, body string) string {
	t.Helper()
	sig, err := key.Sign(rand.Reader, []byte(body), sm2.DefaultSM2SignerOpts)
	if err != nil {
		t.Fatal(err)
	}
	der, err := smx509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyHash := (&LogKey{DER: der}).KeyHash(l.origin)
	return body + "\n\u2014 " + l.origin + " " + base64.StdEncoding.EncodeToString(append(keyHash, sig...)) + "\n"
}

// checkpoint returns the signed checkpoint of the first n leaves.
func (l *testLog) checkpoint(t *testing.T, n int) string {
	t.Helper()
	return l.sign(t, l.key, l.body(n, l.root(n)))
}
