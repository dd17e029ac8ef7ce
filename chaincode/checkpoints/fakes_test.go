package checkpoints

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tiezheng/chaincode/checkpoints/mocks"
)

// fakeLedger backs the counterfeiter stub with an in-memory world state, so that contract tests read back
// what they wrote. Writes of a transaction that fails are discarded, as Fabric would.
type fakeLedger struct {
	ctx    *mocks.TransactionContext
	events map[string][]byte
	state  map[string][]byte
	stub   *mocks.ChaincodeStub
	txs    int
}

func newFakeLedger(t *testing.T, mspID string) *fakeLedger {
	t.Helper()
	l := &fakeLedger{ctx: &mocks.TransactionContext{}, events: map[string][]byte{}, state: map[string][]byte{},
		stub: &mocks.ChaincodeStub{}}
	identity := &mocks.ClientIdentity{}
	identity.GetMSPIDReturns(mspID, nil)
	l.ctx.GetStubReturns(l.stub)
	l.ctx.GetClientIdentityReturns(identity)
	l.stub.CreateCompositeKeyStub = shim.CreateCompositeKey
	l.stub.GetStateStub = func(key string) ([]byte, error) { return l.state[key], nil }
	l.stub.PutStateStub = func(key string, value []byte) error { l.state[key] = value; return nil }
	l.stub.SetEventStub = func(name string, payload []byte) error { l.events[name] = payload; return nil }
	l.stub.GetTxIDStub = func() string { return "tx" + string(rune('a'+l.txs)) }
	l.stub.GetTxTimestampReturns(timestamppb.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)), nil)
	l.stub.GetStateByPartialCompositeKeyStub = l.partial
	return l
}

// partial iterates, in key order, over the state whose keys start with the partial composite key.
func (l *fakeLedger) partial(objectType string, attributes []string) (shim.StateQueryIteratorInterface, error) {
	prefix, err := shim.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range l.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	iter := &mocks.StateQueryIterator{}
	next := 0
	iter.HasNextStub = func() bool { return next < len(keys) }
	iter.NextStub = func() (*queryresult.KV, error) {
		next++
		return &queryresult.KV{Key: keys[next-1], Value: l.state[keys[next-1]]}, nil
	}
	return iter, nil
}

// tx runs f as one transaction: its writes are kept only if it succeeds.
func tx[T any](l *fakeLedger, f func() (T, error)) (T, error) {
	saved := map[string][]byte{}
	for k, v := range l.state {
		saved[k] = v
	}
	l.txs++
	result, err := f()
	if err != nil {
		l.state = saved
	}
	return result, err
}
