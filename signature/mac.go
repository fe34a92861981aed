package signature

import (
	"crypto/hmac"
	"crypto/sha1" // HMAC-SHA1 only for providers that still require it; never a default
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// Hash selects the hash function of an HMAC scheme.
type Hash uint8

// Hash functions for GenericHMACConfig.
const (
	// SHA256 is HMAC-SHA256, the default everywhere.
	SHA256 Hash = iota
	// SHA1 is HMAC-SHA1, for legacy providers only.
	SHA1
	// SHA512 is HMAC-SHA512.
	SHA512
)

// String returns "sha256", "sha1" or "sha512".
func (h Hash) String() string {
	switch h {
	case SHA256:
		return "sha256"
	case SHA1:
		return "sha1"
	case SHA512:
		return "sha512"
	}
	return "unknown"
}

func (h Hash) valid() bool { return h <= SHA512 }

func (h Hash) size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA512:
		return sha512.Size
	}
	return sha256.Size
}

func (h Hash) newFunc() func() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New
	case SHA512:
		return sha512.New
	}
	return sha256.New
}

// maxPrefix bounds the "id.timestamp." (or other) prefix written before the
// body: an id of at most MaxIDLength, a timestamp of at most
// maxTimestampDigits, two dots and some slack for provider templates.
const maxPrefix = 512

// macKey is one HMAC secret with a pool of ready hashers. crypto/hmac saves
// the keyed inner and outer states on the first Reset, so a pooled hasher's
// Reset restores them without hashing the key pads again: the per-message
// cost is the message plus two hash finalisations, like a raw HMAC with a
// reused hasher.
type macKey struct {
	hash Hash
	key  []byte
	pool sync.Pool // of *macState
}

// macState is a pooled hasher with its own scratch space, so that writing
// the prefix and reading the sum allocate nothing.
type macState struct {
	h       hash.Hash
	scratch []byte // prefix buffer, cap maxPrefix
	sum     [sha512.Size]byte
	key     *macKey
}

func newMACKey(h Hash, secret []byte) *macKey {
	return &macKey{hash: h, key: append([]byte(nil), secret...)}
}

func (m *macKey) get() *macState {
	if v, ok := m.pool.Get().(*macState); ok {
		v.h.Reset()
		return v
	}
	s := &macState{h: hmac.New(m.hash.newFunc(), m.key), scratch: make([]byte, 0, maxPrefix), key: m}
	s.h.Reset() // saves the keyed states for the cheap Reset above
	return s
}

func (s *macState) put() {
	s.scratch = s.scratch[:0]
	s.key.pool.Put(s)
}

// writeScratch writes s.scratch to the hash and empties it. Callers append
// the text that precedes (or follows) the body to s.scratch first, so that
// it reaches the hash in one Write without a string-to-bytes conversion.
func (s *macState) writeScratch() {
	s.h.Write(s.scratch)
	s.scratch = s.scratch[:0]
}

// finish returns the MAC in the state's own buffer (valid until put).
func (s *macState) finish() []byte {
	return s.h.Sum(s.sum[:0])
}
