// Parsing and signature verification of log checkpoints: C2SP tlog-checkpoint signed notes whose signature is
// SM2 (GB/T 32918) over SM3 with the default user ID, as docs/formats.md ("Checkpoint", "Primitives") defines.

package checkpoints

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// keyHashSize is the length of the key hash that starts every note signature.
const keyHashSize = 4

// signatureDash starts every signature line: U+2014 EM DASH and a space.
const signatureDash = "\u2014 "

var (
	// ErrMalformedCheckpoint: the checkpoint text does not have the C2SP form of docs/formats.md.
	ErrMalformedCheckpoint = errors.New("malformed checkpoint")
	// ErrMalformedKey: the log key is not an SM2 SubjectPublicKeyInfo in PEM.
	ErrMalformedKey = errors.New("malformed log key")
	// ErrBadSignature: no signature by the log key, or one that does not verify.
	ErrBadSignature = errors.New("checkpoint signature does not verify")
)

var (
	oidPublicKeyEC = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidCurveSM2    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
)

// Checkpoint is a parsed checkpoint. Body is the signed note body (three lines, final newline included).
type Checkpoint struct {
	Body       string
	Origin     string
	Root       []byte
	Signatures []NoteSignature
	Text       string
	TreeSize   uint64
}

// NoteSignature is one signature line: key name, key hash and the DER SM2 signature.
type NoteSignature struct {
	KeyHash   []byte
	Name      string
	Signature []byte
}

// LogKey is a parsed SM2 log public key.
type LogKey struct {
	DER    []byte // SubjectPublicKeyInfo
	Public *ecdsa.PublicKey
}

// ParseCheckpoint parses checkpoint text of the form
//
//	<origin>\n<tree size>\n<base64 root>\n\n— <key name> <base64(key hash || DER signature)>\n...
//
// The body must be exactly the three lines of docs/formats.md (no extension lines), the size decimal without
// leading zeros, the root SM3-sized, and at least one signature line must follow. It checks structure only;
// VerifyCheckpointSignature checks the signature. Errors wrap ErrMalformedCheckpoint.
func ParseCheckpoint(text string) (*Checkpoint, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformedCheckpoint)
	}
	body, sigs, found := strings.Cut(text, "\n\n")
	if !found {
		return nil, fmt.Errorf("%w: no blank line between body and signatures", ErrMalformedCheckpoint)
	}
	lines := strings.Split(body, "\n")
	if len(lines) != 3 {
		return nil, fmt.Errorf("%w: body has %d lines, want 3 (origin, tree size, root)",
			ErrMalformedCheckpoint, len(lines))
	}
	cp := &Checkpoint{Body: body + "\n", Origin: lines[0], Text: text}
	if err := checkKeyName(cp.Origin); err != nil {
		return nil, fmt.Errorf("%w: origin: %w", ErrMalformedCheckpoint, err)
	}
	var err error
	if cp.TreeSize, err = parseTreeSize(lines[1]); err != nil {
		return nil, fmt.Errorf("%w: tree size: %w", ErrMalformedCheckpoint, err)
	}
	if cp.Root, err = base64.StdEncoding.Strict().DecodeString(lines[2]); err != nil {
		return nil, fmt.Errorf("%w: root hash is not base64: %w", ErrMalformedCheckpoint, err)
	}
	if len(cp.Root) != HashSize {
		return nil, fmt.Errorf("%w: root hash has %d bytes, want %d", ErrMalformedCheckpoint, len(cp.Root), HashSize)
	}
	if cp.Signatures, err = parseSignatureLines(sigs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedCheckpoint, err)
	}
	return cp, nil
}

// parseTreeSize parses an unsigned decimal without sign or leading zeros.
func parseTreeSize(s string) (uint64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal without leading zeros", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return n, nil
}

// checkKeyName refuses names a signed note cannot carry: empty, or with spaces, '+' or control characters.
func checkKeyName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	for _, r := range name {
		if r <= ' ' || r == '+' || r == 0x7f || r == 0x2014 {
			return fmt.Errorf("%q contains %q", name, r)
		}
	}
	return nil
}

// parseSignatureLines parses the "— name base64\n" lines after the blank line.
func parseSignatureLines(s string) ([]NoteSignature, error) {
	if s == "" {
		return nil, errors.New("no signature lines")
	}
	if !strings.HasSuffix(s, "\n") {
		return nil, errors.New("signature block does not end with a newline")
	}
	var out []NoteSignature
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		sig, err := parseSignatureLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, sig)
	}
	return out, nil
}

// parseSignatureLine parses one "— name base64" line.
func parseSignatureLine(line string) (NoteSignature, error) {
	rest, ok := strings.CutPrefix(line, signatureDash)
	if !ok {
		return NoteSignature{}, fmt.Errorf("signature line %q does not start with an em dash and a space", line)
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok || checkKeyName(name) != nil {
		return NoteSignature{}, fmt.Errorf("signature line %q has no valid key name", line)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return NoteSignature{}, fmt.Errorf("signature of %q is not base64: %w", name, err)
	}
	if len(raw) <= keyHashSize {
		return NoteSignature{}, fmt.Errorf("signature of %q has %d bytes, too short", name, len(raw))
	}
	return NoteSignature{KeyHash: raw[:keyHashSize], Name: name, Signature: raw[keyHashSize:]}, nil
}

// ParseLogKey parses a PEM "PUBLIC KEY": a SubjectPublicKeyInfo with algorithm id-ecPublicKey and the
// named curve sm2p256v1. Errors wrap ErrMalformedKey.
func ParseLogKey(pemText string) (*LogKey, error) {
	block, rest := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: no PEM block of type PUBLIC KEY", ErrMalformedKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the PEM block", ErrMalformedKey)
	}
	if err := checkSM2Algorithm(block.Bytes); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
	}
	pub, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
	}
	if !sm2.IsSM2PublicKey(pub) {
		return nil, fmt.Errorf("%w: not an SM2 public key", ErrMalformedKey)
	}
	return &LogKey{DER: block.Bytes, Public: pub.(*ecdsa.PublicKey)}, nil
}

// checkSM2Algorithm requires the SubjectPublicKeyInfo algorithm to be id-ecPublicKey on sm2p256v1.
func checkSM2Algorithm(der []byte) error {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.ObjectIdentifier
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil {
		return fmt.Errorf("not a SubjectPublicKeyInfo with a named curve: %w", err)
	} else if len(rest) != 0 {
		return errors.New("trailing data after the SubjectPublicKeyInfo")
	}
	if !spki.Algorithm.Algorithm.Equal(oidPublicKeyEC) || !spki.Algorithm.Parameters.Equal(oidCurveSM2) {
		return fmt.Errorf("algorithm %v curve %v, want id-ecPublicKey (%v) on sm2p256v1 (%v)",
			spki.Algorithm.Algorithm, spki.Algorithm.Parameters, oidPublicKeyEC, oidCurveSM2)
	}
	return nil
}

// Fingerprint returns the key fingerprint: SM3 of the SubjectPublicKeyInfo DER.
func (k *LogKey) Fingerprint() []byte { return sm3Sum(k.DER) }

// KeyHash returns the note key hash for key name: the first 4 bytes of SM3(name || 0x0A || SPKI DER).
func (k *LogKey) KeyHash(name string) []byte {
	msg := append(append([]byte(name), '\n'), k.DER...)
	return sm3Sum(msg)[:keyHashSize]
}

// VerifyCheckpointSignature checks that cp carries a signature by key under the key name cp.Origin and that
// it verifies over cp.Body (SM2 with the default user ID). Signature lines of other keys are ignored, as
// signed notes allow (cosigners). Returns nil on success, an error wrapping ErrBadSignature otherwise.
func VerifyCheckpointSignature(cp *Checkpoint, key *LogKey) error {
	want := key.KeyHash(cp.Origin)
	named := false
	for _, sig := range cp.Signatures {
		if sig.Name != cp.Origin {
			continue
		}
		named = true
		if !bytes.Equal(sig.KeyHash, want) {
			continue
		}
		// 1. The key hash matches the registered key; 2. the SM2 signature must verify over the body.
		if !sm2.VerifyASN1WithSM2(key.Public, nil, []byte(cp.Body), sig.Signature) {
			return fmt.Errorf("%w: SM2 signature of origin %q over tree size %d is invalid",
				ErrBadSignature, cp.Origin, cp.TreeSize)
		}
		return nil
	}
	if named {
		return fmt.Errorf("%w: signed by a key of name %q whose key hash is not %x (the registered key)",
			ErrBadSignature, cp.Origin, want)
	}
	return fmt.Errorf("%w: no signature line with key name %q", ErrBadSignature, cp.Origin)
}
