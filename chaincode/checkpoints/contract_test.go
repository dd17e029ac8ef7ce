package checkpoints

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

const origin = "tiezheng.example/log"

// setup returns a contract, a fake ledger and a test log whose key is registered.
func setup(t *testing.T, size int) (*Contract, *fakeLedger, *testLog) {
	t.Helper()
	c, ledger, l := NewContract(), newFakeLedger(t, "Org1MSP"), newTestLog(t, origin, size)
	if _, err := tx(ledger, func() (*LogKeyRecord, error) { return c.RegisterLogKey(ledger.ctx, origin, l.pemKey) }); err != nil {
		t.Fatal(err)
	}
	return c, ledger, l
}

// anchor submits the checkpoint of size n with the proof from size m.
func anchor(c *Contract, ledger *fakeLedger, t *testing.T, l *testLog, m, n int) (*AnchoredCheckpoint, error) {
	text, proof := l.checkpoint(t, n), l.proofJSON(m, n)
	return tx(ledger, func() (*AnchoredCheckpoint, error) { return c.AnchorCheckpoint(ledger.ctx, text, proof) })
}

func TestNewContract_MetadataBuilds(t *testing.T) {
	if _, err := contractapi.NewChaincode(NewContract()); err != nil {
		t.Fatalf("contractapi refuses the contract: %v", err)
	}
}

func TestRegisterLogKey_StoresRecord(t *testing.T) {
	c, ledger, l := setup(t, 0)
	got, err := c.GetLogKey(ledger.ctx, origin)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ParseLogKey(l.pemKey)
	if got.Fingerprint != hex.EncodeToString(key.Fingerprint()) || got.KeyHash != hex.EncodeToString(key.KeyHash(origin)) ||
		got.RegisteredBy != "Org1MSP" || got.RegisteredAt != "2026-11-23T12:00:00Z" || got.PublicKeyPEM != l.pemKey {
		t.Fatalf("stored %+v", got)
	}
}

func TestRegisterLogKey_Twice(t *testing.T) {
	c, ledger, l := setup(t, 0)
	other := newTestLog(t, origin, 0)
	for _, c2 := range []struct{ pem, want string }{{l.pemKey, "(the same key)"}, {other.pemKey, "(a different key)"}} {
		_, err := c.RegisterLogKey(ledger.ctx, origin, c2.pem)
		if !errors.Is(err, ErrKeyRegistered) || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("got %v, want ErrKeyRegistered containing %q", err, c2.want)
		}
	}
}

func TestRegisterLogKey_BadInput(t *testing.T) {
	c, ledger := NewContract(), newFakeLedger(t, "Org1MSP")
	l := newTestLog(t, origin, 0)
	if _, err := c.RegisterLogKey(ledger.ctx, "bad origin", l.pemKey); !errors.Is(err, ErrMalformedCheckpoint) {
		t.Errorf("origin with a space: got %v", err)
	}
	if _, err := c.RegisterLogKey(ledger.ctx, origin, "not a key"); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("bad PEM: got %v", err)
	}
	if len(ledger.state) != 0 {
		t.Errorf("refused registrations wrote %d keys", len(ledger.state))
	}
}

func TestAnchorCheckpoint_ChainOfAnchors(t *testing.T) {
	c, ledger, l := setup(t, 21)
	sizes := []int{1, 2, 7, 8, 13, 21}
	prev := 0
	for _, n := range sizes {
		got, err := anchor(c, ledger, t, l, prev, n)
		if err != nil {
			t.Fatalf("anchor %d -> %d: %v", prev, n, err)
		}
		if got.TreeSize != uint64(n) || got.PreviousTreeSize != uint64(prev) || got.RootHash != hex.EncodeToString(l.root(n)) {
			t.Fatalf("stored %+v", got)
		}
		prev = n
	}
	latest, err := c.GetLatest(ledger.ctx, origin)
	if err != nil || latest.TreeSize != 21 {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	history, err := c.GetHistory(ledger.ctx, origin)
	if err != nil || len(history) != len(sizes) {
		t.Fatalf("history = %d entries, %v", len(history), err)
	}
	for i, h := range history {
		if h.TreeSize != uint64(sizes[i]) {
			t.Errorf("history[%d] has size %d, want %d", i, h.TreeSize, sizes[i])
		}
	}
}

func TestAnchorCheckpoint_StoresTextProofAndEvent(t *testing.T) {
	c, ledger, l := setup(t, 6)
	if _, err := anchor(c, ledger, t, l, 0, 3); err != nil {
		t.Fatal(err)
	}
	got, err := anchor(c, ledger, t, l, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.GetCheckpoint(ledger.ctx, origin, 6)
	if err != nil {
		t.Fatal(err)
	}
	wantProof, _ := json.Marshal(stored.ConsistencyProof)
	if !strings.HasPrefix(stored.Checkpoint, l.body(6, l.root(6))+"\n\u2014 ") || string(wantProof) != l.proofJSON(3, 6) {
		t.Fatalf("stored %+v", stored)
	}
	event, _ := json.Marshal(got)
	if string(ledger.events[EventCheckpointAnchored]) != string(event) {
		t.Fatalf("event %s, want %s", ledger.events[EventCheckpointAnchored], event)
	}
	if stored.TxID != got.TxID || stored.AnchoredAt != "2026-11-23T12:00:00Z" || stored.KeyFingerprint == "" {
		t.Fatalf("stored %+v", stored)
	}
}

func TestAnchorCheckpoint_EmptyTree(t *testing.T) {
	c, ledger, l := setup(t, 2)
	if _, err := anchor(c, ledger, t, l, 0, 0); err != nil {
		t.Fatalf("empty tree: %v", err)
	}
	if _, err := anchor(c, ledger, t, l, 0, 2); err != nil {
		t.Fatalf("after the empty tree: %v", err)
	}
	fresh := newFakeLedger(t, "Org2MSP")
	if _, err := c.RegisterLogKey(fresh.ctx, origin, l.pemKey); err != nil {
		t.Fatal(err)
	}
	_, err := c.AnchorCheckpoint(fresh.ctx, l.sign(t, l.key, l.body(0, l.root(1))), "[]")
	if !errors.Is(err, ErrInconsistent) || !strings.Contains(err.Error(), "tree size 0 must have the empty root") {
		t.Fatalf("size 0 with a non-empty root: %v", err)
	}
}

func TestAnchorCheckpoint_Refusals(t *testing.T) {
	c, ledger, l := setup(t, 12)
	if _, err := anchor(c, ledger, t, l, 0, 8); err != nil {
		t.Fatal(err)
	}
	forked := newTestLog(t, origin, 12)
	forked.key, forked.pemKey = l.key, l.pemKey
	forked.leaves[5] = []byte("rewritten")
	var tampered []string
	_ = json.Unmarshal([]byte(l.proofJSON(8, 12)), &tampered)
	tampered[0] = "0" + tampered[0][1:]
	if tampered[0] == strings.Split(l.proofJSON(8, 12), "\"")[1] {
		tampered[0] = "1" + tampered[0][1:]
	}
	wrongProofJSON, _ := json.Marshal(tampered)
	wrongProof := string(wrongProofJSON)
	unregistered := newTestLog(t, "other.example/log", 3)
	cases := []struct {
		name, text, proof string
		err               error
		want              string
	}{
		{"smaller", l.checkpoint(t, 5), l.proofJSON(5, 8), ErrSmaller, "tree size 5 < latest anchored 8"},
		{"repeat", l.checkpoint(t, 8), "[]", ErrRepeat, "tree size 8 root " + hex.EncodeToString(l.root(8))},
		{"fork at same size", forked.checkpoint(t, 8), "[]", ErrFork, "has root " + hex.EncodeToString(forked.root(8))},
		{"fork at larger size", forked.checkpoint(t, 12), forked.proofJSON(8, 12), ErrInconsistent, "from size 8 to 12: second tree root mismatch"},
		{"proof of other sizes", l.checkpoint(t, 12), l.proofJSON(7, 12), ErrInconsistent, "from size 8 to 12"},
		{"fork below a non-power-of-two", forked.checkpoint(t, 11), forked.proofJSON(8, 11), ErrInconsistent, "second tree root mismatch"},
		{"tampered proof", l.checkpoint(t, 12), wrongProof, ErrInconsistent, "root mismatch"},
		{"empty proof", l.checkpoint(t, 12), "[]", ErrInconsistent, "proof has 0 entries, too few for sizes 8 and 12"},
		{"proof not JSON", l.checkpoint(t, 12), "abc", ErrMalformedProof, "want a JSON array of hex strings"},
		{"proof null", l.checkpoint(t, 12), "null", ErrMalformedProof, "want a JSON array"},
		{"proof not hex", l.checkpoint(t, 12), `["zz"]`, ErrMalformedProof, "hash 0 is not hex"},
		{"proof short hash", l.checkpoint(t, 12), `["abcd"]`, ErrMalformedProof, "hash 0 has 2 bytes, want 32"},
		{"bad signature", l.body(12, l.root(12)) + "\n" + strings.SplitAfter(l.checkpoint(t, 11), "\n\n")[1], l.proofJSON(8, 12), ErrBadSignature, "over tree size 12 is invalid"},
		{"unregistered origin", unregistered.checkpoint(t, 3), "[]", ErrNoLogKey, `origin "other.example/log"; call RegisterLogKey first`},
		{"malformed checkpoint", "nonsense", "[]", ErrMalformedCheckpoint, "no blank line"},
	}
	for _, tc := range cases {
		before := fmt.Sprint(ledger.state)
		_, err := tx(ledger, func() (*AnchoredCheckpoint, error) { return c.AnchorCheckpoint(ledger.ctx, tc.text, tc.proof) })
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.err, tc.want)
		}
		if fmt.Sprint(ledger.state) != before {
			t.Errorf("%s: refused anchor changed the state", tc.name)
		}
	}
	if _, err := anchor(c, ledger, t, l, 8, 12); err != nil {
		t.Fatalf("the honest extension after the refusals: %v", err)
	}
}

func TestQueries_NotFound(t *testing.T) {
	c, ledger, _ := setup(t, 0)
	if _, err := c.GetCheckpoint(ledger.ctx, origin, 3); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `origin "tiezheng.example/log" tree size 3`) {
		t.Errorf("GetCheckpoint: %v", err)
	}
	if _, err := c.GetLatest(ledger.ctx, origin); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetLatest: %v", err)
	}
	if h, err := c.GetHistory(ledger.ctx, origin); err != nil || h == nil || len(h) != 0 {
		t.Errorf("GetHistory: %v %v, want an empty list", h, err)
	}
	if _, err := c.GetLogKey(ledger.ctx, "nobody"); !errors.Is(err, ErrNoLogKey) {
		t.Errorf("GetLogKey: %v", err)
	}
}

func TestGetHistory_OriginsDoNotMix(t *testing.T) {
	c, ledger, l := setup(t, 3)
	other := newTestLog(t, origin+"2", 3)
	if _, err := tx(ledger, func() (*LogKeyRecord, error) { return c.RegisterLogKey(ledger.ctx, other.origin, other.pemKey) }); err != nil {
		t.Fatal(err)
	}
	if _, err := anchor(c, ledger, t, l, 0, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := anchor(c, ledger, t, other, 0, 2); err != nil {
		t.Fatal(err)
	}
	h, err := c.GetHistory(ledger.ctx, origin)
	if err != nil || len(h) != 1 || h[0].Origin != origin {
		t.Fatalf("history of %s: %+v %v", origin, h, err)
	}
}
