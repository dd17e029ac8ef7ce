// Package checkpoints is the Tiezheng checkpoint contract: it stores signed log checkpoints (C2SP
// tlog-checkpoint, SM2) keyed by origin and tree size and refuses any checkpoint that is not an RFC 9162
// (SM3) consistent extension of the latest one it holds, so the log cannot fork or be rewritten.
//
// Transactions: RegisterLogKey, AnchorCheckpoint. Queries: GetLogKey, GetCheckpoint, GetLatest, GetHistory.
// Failures are returned as errors whose message starts with the text of one of the Err* values below, so
// a client can tell them apart (Fabric passes only the message on).
package checkpoints

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.12.2 -o mocks/transaction.go -fake-name TransactionContext . transactionContext
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.12.2 -o mocks/chaincodestub.go -fake-name ChaincodeStub . chaincodeStub
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.12.2 -o mocks/statequeryiterator.go -fake-name StateQueryIterator . stateQueryIterator
//go:generate go run github.com/maxbrunsfeld/counterfeiter/v6@v6.12.2 -o mocks/clientidentity.go -fake-name ClientIdentity github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid.ClientIdentity

// The fakes in mocks/ are generated from these interfaces.
type transactionContext interface {
	contractapi.TransactionContextInterface
}
type chaincodeStub interface{ shim.ChaincodeStubInterface }
type stateQueryIterator interface {
	shim.StateQueryIteratorInterface
}

// EventCheckpointAnchored is the chaincode event set by AnchorCheckpoint; its payload is the stored record.
const EventCheckpointAnchored = "CheckpointAnchored"

const (
	keyTypeLogKey     = "tiezheng.logkey"     // [origin] -> LogKeyRecord
	keyTypeCheckpoint = "tiezheng.checkpoint" // [origin, %020d tree size] -> AnchoredCheckpoint
	keyTypeLatest     = "tiezheng.latest"     // [origin] -> decimal tree size of the newest checkpoint
)

var (
	// ErrNoLogKey: no key is registered for the checkpoint's origin.
	ErrNoLogKey = errors.New("no log key registered")
	// ErrKeyRegistered: RegisterLogKey for an origin that already has a key.
	ErrKeyRegistered = errors.New("log key already registered")
	// ErrMalformedProof: the consistency proof is not a JSON array of hex SM3 hashes.
	ErrMalformedProof = errors.New("malformed consistency proof")
	// ErrNotFound: no checkpoint stored for the origin and size asked for.
	ErrNotFound = errors.New("checkpoint not found")
	// ErrRepeat: the checkpoint (same size, same root) is already anchored.
	ErrRepeat = errors.New("checkpoint already anchored")
	// ErrFork: a checkpoint of the same size but another root is already anchored.
	ErrFork = errors.New("fork")
	// ErrSmaller: the tree size is below the latest anchored one.
	ErrSmaller = errors.New("tree size smaller than the latest anchored")
	// ErrInconsistent: the consistency proof from the latest anchored checkpoint does not verify.
	ErrInconsistent = errors.New("checkpoint inconsistent with the latest anchored")
)

// LogKeyRecord is the registered SM2 key of one log origin.
type LogKeyRecord struct {
	Fingerprint  string `json:"fingerprint"`    // hex SM3 of the SubjectPublicKeyInfo DER
	KeyHash      string `json:"key_hash"`       // hex note key hash for the origin (4 bytes)
	Origin       string `json:"origin"`         // log origin, the note key name
	PublicKeyPEM string `json:"public_key_pem"` // as registered
	RegisteredAt string `json:"registered_at"`  // transaction timestamp, RFC 3339 UTC
	RegisteredBy string `json:"registered_by"`  // MSP ID of the submitting client
	TxID         string `json:"tx_id"`
}

// AnchoredCheckpoint is one stored checkpoint.
type AnchoredCheckpoint struct {
	AnchoredAt       string   `json:"anchored_at"`       // transaction timestamp, RFC 3339 UTC
	Checkpoint       string   `json:"checkpoint"`        // the signed checkpoint text, as given
	ConsistencyProof []string `json:"consistency_proof"` // hex, from PreviousTreeSize to TreeSize
	KeyFingerprint   string   `json:"key_fingerprint"`   // the log key that signed it
	Origin           string   `json:"origin"`
	PreviousTreeSize uint64   `json:"previous_tree_size"` // latest anchored size before this one; 0 if none
	RootHash         string   `json:"root_hash"`          // hex
	TreeSize         uint64   `json:"tree_size"`
	TxID             string   `json:"tx_id"`
}

// Contract is the checkpoint contract.
type Contract struct {
	contractapi.Contract
}

// NewContract returns the contract with its name and metadata set.
func NewContract() *Contract {
	c := &Contract{}
	c.Name = "checkpoints"
	c.Info.Title = "Tiezheng checkpoint anchors"
	c.Info.Version = "1.0.0"
	return c
}

// RegisterLogKey registers the SM2 public key (PEM SubjectPublicKeyInfo) of the log named origin. A key is
// registered once per origin and never replaced.
func (c *Contract) RegisterLogKey(ctx contractapi.TransactionContextInterface, origin string, publicKeyPEM string) (*LogKeyRecord, error) {
	if err := checkKeyName(origin); err != nil {
		return nil, fmt.Errorf("%w: origin: %w", ErrMalformedCheckpoint, err)
	}
	key, err := ParseLogKey(publicKeyPEM)
	if err != nil {
		return nil, err
	}
	existing, err := c.GetLogKey(ctx, origin)
	if err == nil {
		same := "a different key"
		if existing.Fingerprint == hex.EncodeToString(key.Fingerprint()) {
			same = "the same key"
		}
		return nil, fmt.Errorf("%w: origin %q already has key %s (%s)", ErrKeyRegistered, origin, existing.Fingerprint, same)
	} else if !errors.Is(err, ErrNoLogKey) {
		return nil, err
	}
	stub := ctx.GetStub()
	record := &LogKeyRecord{
		Fingerprint:  hex.EncodeToString(key.Fingerprint()),
		KeyHash:      hex.EncodeToString(key.KeyHash(origin)),
		Origin:       origin,
		PublicKeyPEM: publicKeyPEM,
		TxID:         stub.GetTxID(),
	}
	if record.RegisteredAt, err = txTime(stub); err != nil {
		return nil, err
	}
	if record.RegisteredBy, err = ctx.GetClientIdentity().GetMSPID(); err != nil {
		return nil, fmt.Errorf("reading the client's MSP ID: %w", err)
	}
	if err := putJSON(stub, keyTypeLogKey, []string{origin}, record); err != nil {
		return nil, err
	}
	return record, nil
}

// AnchorCheckpoint verifies and stores a checkpoint.
//
// checkpointText is the signed checkpoint (docs/formats.md); consistencyProofJSON is a JSON array of hex
// SM3 hashes proving that its tree extends the latest anchored checkpoint of the same origin ("[]" for the
// first anchor of an origin). Refused: malformed input, an unregistered origin, a bad signature, a smaller
// size, a repeat, a fork (same size, other root) and a proof that does not verify. Returns the stored record
// and sets the CheckpointAnchored event.
func (c *Contract) AnchorCheckpoint(ctx contractapi.TransactionContextInterface, checkpointText string, consistencyProofJSON string) (*AnchoredCheckpoint, error) {
	// 1. Structure: checkpoint text and proof.
	cp, err := ParseCheckpoint(checkpointText)
	if err != nil {
		return nil, err
	}
	proofHex, proof, err := parseProof(consistencyProofJSON)
	if err != nil {
		return nil, err
	}
	// 2. Signature by the origin's registered key.
	keyRecord, err := c.GetLogKey(ctx, cp.Origin)
	if err != nil {
		return nil, err
	}
	key, err := ParseLogKey(keyRecord.PublicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("stored key of origin %q: %w", cp.Origin, err)
	}
	if err := VerifyCheckpointSignature(cp, key); err != nil {
		return nil, err
	}
	// 3. Consistency with the latest anchored checkpoint.
	previous, err := c.latest(ctx, cp.Origin)
	if err != nil {
		return nil, err
	}
	if err := checkExtends(previous, cp, proof); err != nil {
		return nil, err
	}
	// 4. Store it and point "latest" at it.
	return c.store(ctx, cp, previous, proofHex, keyRecord.Fingerprint)
}

// checkExtends checks that cp extends previous (nil: nothing anchored yet) by proof.
func checkExtends(previous *AnchoredCheckpoint, cp *Checkpoint, proof [][]byte) error {
	var size1 uint64
	root1 := EmptyRoot()
	if previous != nil {
		size1 = previous.TreeSize
		root1, _ = hex.DecodeString(previous.RootHash)
		rootHex := hex.EncodeToString(cp.Root)
		switch {
		case cp.TreeSize < size1:
			return fmt.Errorf("%w: origin %q tree size %d < latest anchored %d", ErrSmaller, cp.Origin, cp.TreeSize, size1)
		case cp.TreeSize == size1 && rootHex == previous.RootHash:
			return fmt.Errorf("%w: origin %q tree size %d root %s", ErrRepeat, cp.Origin, cp.TreeSize, rootHex)
		case cp.TreeSize == size1:
			return fmt.Errorf("%w: origin %q tree size %d has root %s, anchored root is %s",
				ErrFork, cp.Origin, cp.TreeSize, rootHex, previous.RootHash)
		}
	} else if cp.TreeSize == 0 && !bytes.Equal(cp.Root, root1) {
		return fmt.Errorf("%w: origin %q tree size 0 must have the empty root %x", ErrInconsistent, cp.Origin, root1)
	}
	if err := VerifyConsistency(size1, cp.TreeSize, root1, cp.Root, proof); err != nil {
		return fmt.Errorf("%w: origin %q from size %d to %d: %w", ErrInconsistent, cp.Origin, size1, cp.TreeSize, err)
	}
	return nil
}

// store writes the checkpoint record and the latest pointer and sets the event.
func (c *Contract) store(ctx contractapi.TransactionContextInterface, cp *Checkpoint, previous *AnchoredCheckpoint, proofHex []string, fingerprint string) (*AnchoredCheckpoint, error) {
	stub := ctx.GetStub()
	record := &AnchoredCheckpoint{
		Checkpoint:       cp.Text,
		ConsistencyProof: proofHex,
		KeyFingerprint:   fingerprint,
		Origin:           cp.Origin,
		RootHash:         hex.EncodeToString(cp.Root),
		TreeSize:         cp.TreeSize,
		TxID:             stub.GetTxID(),
	}
	if previous != nil {
		record.PreviousTreeSize = previous.TreeSize
	}
	var err error
	if record.AnchoredAt, err = txTime(stub); err != nil {
		return nil, err
	}
	if err := putJSON(stub, keyTypeCheckpoint, []string{cp.Origin, sizeKey(cp.TreeSize)}, record); err != nil {
		return nil, err
	}
	latestKey, err := stub.CreateCompositeKey(keyTypeLatest, []string{cp.Origin})
	if err != nil {
		return nil, fmt.Errorf("latest key of origin %q: %w", cp.Origin, err)
	}
	if err := stub.PutState(latestKey, []byte(fmt.Sprint(cp.TreeSize))); err != nil {
		return nil, fmt.Errorf("writing latest of origin %q: %w", cp.Origin, err)
	}
	payload, err := json.Marshal(record)
	if err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	if err := stub.SetEvent(EventCheckpointAnchored, payload); err != nil {
		return nil, fmt.Errorf("setting event: %w", err)
	}
	return record, nil
}

// GetLogKey returns the registered key of origin, or an error wrapping ErrNoLogKey.
func (c *Contract) GetLogKey(ctx contractapi.TransactionContextInterface, origin string) (*LogKeyRecord, error) {
	record := &LogKeyRecord{}
	found, err := getJSON(ctx.GetStub(), keyTypeLogKey, []string{origin}, record)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: origin %q; call RegisterLogKey first", ErrNoLogKey, origin)
	}
	return record, nil
}

// GetCheckpoint returns the anchored checkpoint of origin with treeSize, or an error wrapping ErrNotFound.
func (c *Contract) GetCheckpoint(ctx contractapi.TransactionContextInterface, origin string, treeSize uint64) (*AnchoredCheckpoint, error) {
	record := &AnchoredCheckpoint{}
	found, err := getJSON(ctx.GetStub(), keyTypeCheckpoint, []string{origin, sizeKey(treeSize)}, record)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: origin %q tree size %d", ErrNotFound, origin, treeSize)
	}
	return record, nil
}

// GetLatest returns the newest anchored checkpoint of origin, or an error wrapping ErrNotFound.
func (c *Contract) GetLatest(ctx contractapi.TransactionContextInterface, origin string) (*AnchoredCheckpoint, error) {
	record, err := c.latest(ctx, origin)
	if err != nil {
		return nil, err
	}
	if record == nil {
		return nil, fmt.Errorf("%w: origin %q has no anchored checkpoint", ErrNotFound, origin)
	}
	return record, nil
}

// GetHistory returns every anchored checkpoint of origin, smallest tree size first (empty if none).
func (c *Contract) GetHistory(ctx contractapi.TransactionContextInterface, origin string) ([]*AnchoredCheckpoint, error) {
	iter, err := ctx.GetStub().GetStateByPartialCompositeKey(keyTypeCheckpoint, []string{origin})
	if err != nil {
		return nil, fmt.Errorf("history of origin %q: %w", origin, err)
	}
	defer iter.Close()
	history := []*AnchoredCheckpoint{}
	for iter.HasNext() {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("history of origin %q: %w", origin, err)
		}
		record := &AnchoredCheckpoint{}
		if err := json.Unmarshal(kv.Value, record); err != nil {
			return nil, fmt.Errorf("decoding %q: %w", kv.Key, err)
		}
		history = append(history, record)
	}
	return history, nil
}

// latest returns the newest anchored checkpoint of origin, or nil if there is none.
func (c *Contract) latest(ctx contractapi.TransactionContextInterface, origin string) (*AnchoredCheckpoint, error) {
	stub := ctx.GetStub()
	key, err := stub.CreateCompositeKey(keyTypeLatest, []string{origin})
	if err != nil {
		return nil, fmt.Errorf("latest key of origin %q: %w", origin, err)
	}
	value, err := stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("reading latest of origin %q: %w", origin, err)
	}
	if value == nil {
		return nil, nil
	}
	size, err := parseTreeSize(string(value))
	if err != nil {
		return nil, fmt.Errorf("stored latest of origin %q: %w", origin, err)
	}
	return c.GetCheckpoint(ctx, origin, size)
}

// parseProof decodes the JSON array of hex hashes; it returns them lower-cased as hex and as bytes.
func parseProof(proofJSON string) ([]string, [][]byte, error) {
	var hexes []string
	if err := json.Unmarshal([]byte(proofJSON), &hexes); err != nil || hexes == nil {
		return nil, nil, fmt.Errorf("%w: want a JSON array of hex strings, got %.80q", ErrMalformedProof, proofJSON)
	}
	proof, err := DecodeHashes(hexes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformedProof, err)
	}
	for i, h := range proof {
		hexes[i] = hex.EncodeToString(h)
	}
	return hexes, proof, nil
}

// sizeKey renders a tree size so that composite keys sort numerically.
func sizeKey(size uint64) string { return fmt.Sprintf("%020d", size) }

// txTime returns the transaction timestamp as RFC 3339 UTC (the same on every endorser).
func txTime(stub shim.ChaincodeStubInterface) (string, error) {
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return "", fmt.Errorf("reading the transaction timestamp: %w", err)
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano), nil
}

// putJSON stores value as JSON under the composite key (objectType, attributes).
func putJSON(stub shim.ChaincodeStubInterface, objectType string, attributes []string, value any) error {
	key, err := stub.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return fmt.Errorf("key %s %q: %w", objectType, attributes, err)
	}
	data, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encoding %s %q: %w", objectType, attributes, err)
	}
	if err := stub.PutState(key, data); err != nil {
		return fmt.Errorf("writing %s %q: %w", objectType, attributes, err)
	}
	return nil
}

// getJSON reads the JSON under the composite key into value; found is false when there is none.
func getJSON(stub shim.ChaincodeStubInterface, objectType string, attributes []string, value any) (bool, error) {
	key, err := stub.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return false, fmt.Errorf("key %s %q: %w", objectType, attributes, err)
	}
	data, err := stub.GetState(key)
	if err != nil {
		return false, fmt.Errorf("reading %s %q: %w", objectType, attributes, err)
	}
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, value); err != nil {
		return false, fmt.Errorf("decoding %s %q: %w", objectType, attributes, err)
	}
	return true, nil
}
