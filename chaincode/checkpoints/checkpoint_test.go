package checkpoints

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

func TestParseCheckpoint_Valid(t *testing.T) {
	l := newTestLog(t, "tiezheng.example/log", 5)
	cp, err := ParseCheckpoint(l.checkpoint(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != l.origin || cp.TreeSize != 5 || string(cp.Root) != string(l.root(5)) {
		t.Fatalf("parsed %q %d %x", cp.Origin, cp.TreeSize, cp.Root)
	}
	if cp.Body != l.body(5, l.root(5)) || len(cp.Signatures) != 1 || cp.Signatures[0].Name != l.origin {
		t.Fatalf("body %q signatures %+v", cp.Body, cp.Signatures)
	}
}

func TestParseCheckpoint_Malformed(t *testing.T) {
	l := newTestLog(t, "tiezheng.example/log", 5)
	good := l.checkpoint(t, 5)
	root := base64.StdEncoding.EncodeToString(l.root(5))
	sigLine := good[strings.Index(good, "\u2014"):]
	cases := []struct{ name, text, want string }{
		{"no blank line", strings.Replace(good, "\n\n", "\n", 1), "no blank line"},
		{"extension line", "o\n5\n" + root + "\nextra\n\n" + sigLine, "body has 4 lines, want 3"},
		{"empty origin", "\n5\n" + root + "\n\n" + sigLine, "origin: empty"},
		{"origin with space", "a b\n5\n" + root + "\n\n" + sigLine, `origin: "a b" contains ' '`},
		{"leading zero", "o\n05\n" + root + "\n\n" + sigLine, `tree size: "05" is not a decimal`},
		{"negative size", "o\n-5\n" + root + "\n\n" + sigLine, `tree size: "-5" is not a decimal`},
		{"size overflow", "o\n18446744073709551616\n" + root + "\n\n" + sigLine, "value out of range"},
		{"root not base64", "o\n5\n%%%\n\n" + sigLine, "root hash is not base64"},
		{"short root", "o\n5\nAAAA\n\n" + sigLine, "root hash has 3 bytes, want 32"},
		{"no signature", "o\n5\n" + root + "\n\n", "no signature lines"},
		{"no final newline", strings.TrimSuffix(good, "\n"), "does not end with a newline"},
		{"hyphen for em dash", strings.Replace(good, "\u2014", "-", 1), "does not start with an em dash"},
		{"signature not base64", "o\n5\n" + root + "\n\n\u2014 o !!!\n", "is not base64"},
		{"signature too short", "o\n5\n" + root + "\n\n\u2014 o AAAA\n", "has 3 bytes, too short"},
		{"not UTF-8", "o\xff\n5\n" + root + "\n\n" + sigLine, "not UTF-8"},
	}
	for _, c := range cases {
		_, err := ParseCheckpoint(c.text)
		if !errors.Is(err, ErrMalformedCheckpoint) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrMalformedCheckpoint containing %q", c.name, err, c.want)
		}
	}
}

func TestVerifyCheckpointSignature_Valid(t *testing.T) {
	l := newTestLog(t, "tiezheng.example/log", 3)
	cp, key := parsed(t, l, l.checkpoint(t, 3))
	if err := VerifyCheckpointSignature(cp, key); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCheckpointSignature_CosignatureIgnored(t *testing.T) {
	l := newTestLog(t, "tiezheng.example/log", 3)
	other := newTestLog(t, "witness.example", 3)
	text := l.checkpoint(t, 3)
	text += strings.SplitAfter(other.sign(t, other.key, l.body(3, l.root(3))), "\n\n")[1]
	cp, key := parsed(t, l, text)
	if len(cp.Signatures) != 2 {
		t.Fatalf("got %d signatures, want 2", len(cp.Signatures))
	}
	if err := VerifyCheckpointSignature(cp, key); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCheckpointSignature_Failures(t *testing.T) {
	l := newTestLog(t, "tiezheng.example/log", 4)
	intruder, _ := sm2.GenerateKey(rand.Reader)
	good := l.checkpoint(t, 4)
	sigLine := good[strings.Index(good, "\n\n")+1:]
	cases := []struct{ name, text, want string }{
		{"other key", l.sign(t, intruder, l.body(4, l.root(4))), "whose key hash is not"},
		{"tampered size", l.body(3, l.root(4)) + sigLine, "SM2 signature of origin \"tiezheng.example/log\" over tree size 3 is invalid"},
		{"tampered root", l.body(4, l.root(3)) + sigLine, "is invalid"},
		{"no line for origin", l.body(4, l.root(4)) + "\n\u2014 someone.else AAAAAAAA\n", `no signature line with key name "tiezheng.example/log"`},
	}
	for _, c := range cases {
		cp, key := parsed(t, l, c.text)
		err := VerifyCheckpointSignature(cp, key)
		if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrBadSignature containing %q", c.name, err, c.want)
		}
	}
}

func TestParseLogKey_Malformed(t *testing.T) {
	nist, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&nist.PublicKey)
	l := newTestLog(t, "o", 0)
	cases := []struct{ name, pem, want string }{
		{"not PEM", "hello", "no PEM block of type PUBLIC KEY"},
		{"wrong type", strings.ReplaceAll(l.pemKey, "PUBLIC KEY", "PRIVATE KEY"), "no PEM block of type PUBLIC KEY"},
		{"NIST P-256", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "want id-ecPublicKey (1.2.840.10045.2.1) on sm2p256v1"},
		{"garbage DER", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})), "not a SubjectPublicKeyInfo"},
		{"trailing data", l.pemKey + "junk", "trailing data after the PEM block"},
	}
	for _, c := range cases {
		_, err := ParseLogKey(c.pem)
		if !errors.Is(err, ErrMalformedKey) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrMalformedKey containing %q", c.name, err, c.want)
		}
	}
}

// parsed parses text and the log's key, failing the test on error.
func parsed(t *testing.T, l *testLog, text string) (*Checkpoint, *LogKey) {
	t.Helper()
	cp, err := ParseCheckpoint(text)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseLogKey(l.pemKey)
	if err != nil {
		t.Fatal(err)
	}
	return cp, key
}
