package signature

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
)

// Key prefixes used by Standard Webhooks.
const (
	// PrefixSecret marks a symmetric v1 (HMAC-SHA256) secret.
	PrefixSecret = "whsec_"
	// PrefixSigningKey marks an asymmetric v1a (ed25519) secret key.
	PrefixSigningKey = "whsk_"
	// PrefixPublicKey marks an asymmetric v1a (ed25519) public key.
	PrefixPublicKey = "whpk_"
)

// MinSecretSize is the smallest accepted v1 secret, in decoded bytes. The
// Standard Webhooks specification asks for 24 to 64 random bytes.
const MinSecretSize = 16

// Signature scheme versions as they appear in the webhook-signature header.
const (
	VersionV1  = "v1"  // HMAC-SHA256
	VersionV1a = "v1a" // ed25519
)

type keyKind uint8

const (
	kindNone keyKind = iota
	kindHMAC
	kindEd25519Private
	kindEd25519Public
)

// keyData describes a key. All key material sits behind a second pointer
// (mac, ed): when fmt reaches a Key through reflection (an unexported field
// of a caller's struct, where Key's own Format is not consulted, and even
// with a bad verb such as %s, for which fmt dumps the pointed-to struct),
// it prints those pointers as addresses and never the bytes.
type keyData struct {
	kind keyKind
	mac  *macKey // kindHMAC
	ed   *edKey  // both ed25519 kinds
}

type edKey struct {
	priv ed25519.PrivateKey // nil for a public key
	pub  ed25519.PublicKey
}

// Key is one Standard Webhooks key: an HMAC secret (v1, signs and verifies),
// an ed25519 private key (v1a, signs and verifies) or an ed25519 public key
// (v1a, verifies only). The zero Key is invalid. Keys are immutable and safe
// for concurrent use; copying one is cheap and shares its precomputed state.
//
// A Key never prints its secret material: String, Format (every verb,
// including %#v), GoString, LogValue, MarshalText and MarshalJSON all give a
// redacted form such as "whsec_[REDACTED]". Public keys are not secret and
// print in full.
type Key struct {
	d *keyData
}

// ParseKey parses a Standard Webhooks key:
//
//   - "whsec_<base64>" or bare "<base64>": a v1 HMAC secret of at least
//     MinSecretSize bytes;
//   - "whsk_<base64>": a v1a ed25519 secret key, either the 64-byte
//     seed‖public-key form or a 32-byte seed;
//   - "whpk_<base64>": a v1a ed25519 public key (32 bytes).
//
// Standard base64 is accepted with or without padding. Surrounding white
// space (a trailing newline from a file or environment variable) is ignored.
// Errors wrap ErrEmptyKey, ErrKeyTooShort or ErrInvalidKey and never contain
// the key.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, PrefixSigningKey):
		b, err := decodeKey(s[len(PrefixSigningKey):], PrefixSigningKey)
		if err != nil {
			return Key{}, err
		}
		return ed25519PrivateFromBytes(b)
	case strings.HasPrefix(s, PrefixPublicKey):
		b, err := decodeKey(s[len(PrefixPublicKey):], PrefixPublicKey)
		if err != nil {
			return Key{}, err
		}
		if len(b) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("%w: %s public key must be %d bytes, got %d", ErrInvalidKey, PrefixPublicKey, ed25519.PublicKeySize, len(b))
		}
		return Key{d: &keyData{kind: kindEd25519Public, ed: &edKey{pub: ed25519.PublicKey(b)}}}, nil
	default:
		b, err := decodeKey(strings.TrimPrefix(s, PrefixSecret), PrefixSecret)
		if err != nil {
			return Key{}, err
		}
		return NewSecretKey(b)
	}
}

// MustParseKey is like ParseKey but panics on error. It is meant for tests
// and package-level variables holding constants.
func MustParseKey(s string) Key {
	k, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// NewSecretKey returns a v1 HMAC key from raw secret bytes (at least
// MinSecretSize). The bytes are copied.
func NewSecretKey(secret []byte) (Key, error) {
	if len(secret) == 0 {
		return Key{}, fmt.Errorf("%w: the secret has no bytes", ErrEmptyKey)
	}
	if len(secret) < MinSecretSize {
		return Key{}, fmt.Errorf("%w: %d bytes, need at least %d (generate one with GenerateSecret)", ErrKeyTooShort, len(secret), MinSecretSize)
	}
	return Key{d: &keyData{kind: kindHMAC, mac: newMACKey(SHA256, secret)}}, nil
}

// NewEd25519Key returns a v1a key from an ed25519 private key (64 bytes, or
// a 32-byte seed) or public key. The bytes are copied.
func NewEd25519Key[K ed25519.PrivateKey | ed25519.PublicKey](k K) (Key, error) {
	switch k := any(k).(type) {
	case ed25519.PrivateKey:
		return ed25519PrivateFromBytes(append([]byte(nil), k...))
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("%w: ed25519 public key must be %d bytes, got %d", ErrInvalidKey, ed25519.PublicKeySize, len(k))
		}
		return Key{d: &keyData{kind: kindEd25519Public, ed: &edKey{pub: append(ed25519.PublicKey(nil), k...)}}}, nil
	}
	return Key{}, ErrInvalidKey
}

func decodeKey(b64, prefix string) ([]byte, error) {
	if b64 == "" {
		return nil, fmt.Errorf("%w: nothing after %q", ErrEmptyKey, prefix)
	}
	enc := base64.RawStdEncoding // unpadded
	if strings.HasSuffix(b64, "=") {
		enc = base64.StdEncoding // padded
	}
	b, err := enc.DecodeString(b64)
	if err != nil {
		// The base64 error carries an offset only, never the input.
		return nil, fmt.Errorf("%w: not standard base64: %v", ErrInvalidKey, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: key decodes to no bytes", ErrEmptyKey)
	}
	return b, nil
}

func ed25519PrivateFromBytes(b []byte) (Key, error) {
	var priv ed25519.PrivateKey
	switch len(b) {
	case ed25519.SeedSize:
		priv = ed25519.NewKeyFromSeed(b)
	case ed25519.PrivateKeySize:
		priv = ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !ed25519.PublicKey(b[ed25519.SeedSize:]).Equal(priv.Public()) {
			return Key{}, fmt.Errorf("%w: %s key: the public half does not match the seed", ErrInvalidKey, PrefixSigningKey)
		}
	default:
		return Key{}, fmt.Errorf("%w: %s key must be %d (seed) or %d (seed and public key) bytes, got %d",
			ErrInvalidKey, PrefixSigningKey, ed25519.SeedSize, ed25519.PrivateKeySize, len(b))
	}
	return Key{d: &keyData{kind: kindEd25519Private, ed: &edKey{priv: priv, pub: priv.Public().(ed25519.PublicKey)}}}, nil
}

// GenerateSecret returns a new v1 secret: "whsec_" followed by the standard
// base64 of 32 random bytes.
func GenerateSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("signature: generating secret: %w", err)
	}
	return PrefixSecret + base64.StdEncoding.EncodeToString(b[:]), nil
}

// GenerateKeyPair returns a new v1a key pair: secret is "whsk_" followed by
// the base64 of the 64-byte seed‖public key, public is "whpk_" followed by
// the base64 of the 32-byte public key.
func GenerateKeyPair() (secret, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("signature: generating key pair: %w", err)
	}
	return PrefixSigningKey + base64.StdEncoding.EncodeToString(priv),
		PrefixPublicKey + base64.StdEncoding.EncodeToString(pub), nil
}

// IsZero reports whether k is the zero (invalid) Key.
func (k Key) IsZero() bool { return k.d == nil }

// Version returns VersionV1 for HMAC secrets, VersionV1a for ed25519 keys and
// "" for the zero Key.
func (k Key) Version() string {
	if k.d == nil {
		return ""
	}
	if k.d.kind == kindHMAC {
		return VersionV1
	}
	return VersionV1a
}

// CanSign reports whether k can sign (an HMAC secret or an ed25519 private
// key); a public key only verifies.
func (k Key) CanSign() bool {
	return k.d != nil && (k.d.kind == kindHMAC || k.d.kind == kindEd25519Private)
}

// Public returns the verify-only public key of an ed25519 key. For an HMAC
// secret, a public key or the zero Key it returns k unchanged.
func (k Key) Public() Key {
	if k.d == nil || k.d.kind != kindEd25519Private {
		return k
	}
	return Key{d: &keyData{kind: kindEd25519Public, ed: &edKey{pub: k.d.ed.pub}}}
}

// PublicString returns the "whpk_…" form of an ed25519 key's public half, or
// "" for HMAC secrets and the zero Key.
func (k Key) PublicString() string {
	if k.d == nil || k.d.ed == nil {
		return ""
	}
	return PrefixPublicKey + base64.StdEncoding.EncodeToString(k.d.ed.pub)
}

// Fingerprint returns a short, non-secret identifier of the key (the first 8
// hex digits of SHA-256 over a domain tag and the key), handy to tell keys
// apart in logs during a rotation. It does not reveal the key.
func (k Key) Fingerprint() string {
	if k.d == nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("hookkit/signature key fingerprint\x00"))
	switch k.d.kind {
	case kindHMAC:
		h.Write([]byte{1})
		h.Write(k.d.mac.key)
	default:
		h.Write([]byte{2})
		h.Write(k.d.ed.pub)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:4])
}

const redacted = "[REDACTED]"

// String returns a redacted description: "whsec_[REDACTED]",
// "whsk_[REDACTED]", the full "whpk_…" public key, or "signature.Key{}" for
// the zero Key.
func (k Key) String() string {
	if k.d == nil {
		return "signature.Key{}"
	}
	switch k.d.kind {
	case kindHMAC:
		return PrefixSecret + redacted
	case kindEd25519Private:
		return PrefixSigningKey + redacted
	default:
		return k.PublicString()
	}
}

// GoString implements fmt.GoStringer with the same redacted text as String.
func (k Key) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, …) prints the redacted String and never the key bytes.
func (k Key) Format(f fmt.State, verb rune) {
	s := k.String()
	if verb == 'q' {
		s = fmt.Sprintf("%q", s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements slog.LogValuer with the redacted String.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted String, so
// that a configuration struct holding a Key can be logged or dumped as JSON
// without leaking it. The result cannot be parsed back into the key.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON implements json.Marshaler with the redacted String as a JSON
// string.
func (k Key) MarshalJSON() ([]byte, error) {
	return []byte(`"` + k.String() + `"`), nil
}
