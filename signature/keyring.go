package signature

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Entry is one key of a Keyring with an optional expiry. A key is active up
// to and including NotAfter; a zero NotAfter never expires. An expired key
// neither signs nor verifies.
type Entry struct {
	Key      Key
	NotAfter time.Time
}

func (e Entry) activeAt(now time.Time) bool {
	return e.NotAfter.IsZero() || !now.After(e.NotAfter)
}

// Keyring is an immutable set of keys used for rotation: a Signer signs with
// every active key that can sign (so receivers holding either the old or the
// new key accept the message), and a StandardVerifier accepts a signature
// from any active key. It is safe for concurrent use.
//
// A typical rotation: add the new key next to the old one, give the old one
// a NotAfter a little beyond the time every receiver has the new key, then
// drop it.
type Keyring struct {
	entries []Entry
}

// NewKeyring returns a Keyring of the given entries, in order. It needs at
// least one entry and rejects zero Keys.
func NewKeyring(entries ...Entry) (*Keyring, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: a keyring needs at least one key", ErrEmptyKey)
	}
	for i, e := range entries {
		if e.Key.IsZero() {
			return nil, fmt.Errorf("%w: keyring entry %d has a zero Key (use ParseKey)", ErrInvalidKey, i)
		}
	}
	return &Keyring{entries: append([]Entry(nil), entries...)}, nil
}

// NewKeyringFromStrings parses each string with ParseKey and returns a
// Keyring of keys that never expire.
func NewKeyringFromStrings(keys ...string) (*Keyring, error) {
	entries := make([]Entry, 0, len(keys))
	for i, s := range keys {
		k, err := ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		entries = append(entries, Entry{Key: k})
	}
	return NewKeyring(entries...)
}

// MustKeyring is like NewKeyringFromStrings but panics on error; for tests.
func MustKeyring(keys ...string) *Keyring {
	kr, err := NewKeyringFromStrings(keys...)
	if err != nil {
		panic(err)
	}
	return kr
}

// Entries returns a copy of the keyring's entries.
func (kr *Keyring) Entries() []Entry {
	return append([]Entry(nil), kr.entries...)
}

// Len returns the number of entries.
func (kr *Keyring) Len() int { return len(kr.entries) }

// String describes the keyring without secret material, e.g.
// "signature.Keyring{whsec_[REDACTED] (fingerprint 1a2b3c4d), …}".
func (kr *Keyring) String() string {
	if kr == nil {
		return "signature.Keyring(nil)"
	}
	var b strings.Builder
	b.WriteString("signature.Keyring{")
	for i, e := range kr.entries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Key.String())
		b.WriteString(" (fingerprint ")
		b.WriteString(e.Key.Fingerprint())
		if !e.NotAfter.IsZero() {
			b.WriteString(", not after ")
			b.WriteString(e.NotAfter.UTC().Format(time.RFC3339))
		}
		b.WriteString(")")
	}
	b.WriteString("}")
	return b.String()
}

// GoString returns String.
func (kr *Keyring) GoString() string { return kr.String() }

// Format prints String for every verb.
func (kr *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(kr.String())) }

// LogValue implements slog.LogValuer without secret material.
func (kr *Keyring) LogValue() slog.Value { return slog.StringValue(kr.String()) }
