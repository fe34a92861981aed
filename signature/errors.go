package signature

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (test with errors.Is); the wrapping text adds detail but never secret
// material nor raw header values.
var (
	// ErrEmptyKey reports an empty secret ("" or a bare prefix such as "whsec_").
	// An empty HMAC key would let anyone forge signatures.
	ErrEmptyKey = errors.New("signature: empty key")
	// ErrKeyTooShort reports an HMAC secret shorter than MinSecretSize bytes.
	ErrKeyTooShort = errors.New("signature: key too short")
	// ErrInvalidKey reports a key that is not valid base64 or has the wrong
	// size or form for its prefix.
	ErrInvalidKey = errors.New("signature: invalid key")
	// ErrNoSigningKey reports a keyring (or signer) with no key that can sign
	// at the current time: only public keys, or every key past its NotAfter.
	ErrNoSigningKey = errors.New("signature: no active signing key")
	// ErrMissingHeaders reports a request without the required signature
	// headers. Unsigned requests are always refused.
	ErrMissingHeaders = errors.New("signature: missing signature headers")
	// ErrInvalidHeader reports a malformed header: a non-canonical timestamp,
	// an id with forbidden characters, a header given more than once, or a
	// signature header with no usable entry.
	ErrInvalidHeader = errors.New("signature: invalid signature header")
	// ErrNoMatchingSignature reports that no signature in the header matches
	// the body with any active key.
	ErrNoMatchingSignature = errors.New("signature: no matching signature")
	// ErrTooOld reports a timestamp further in the past than the tolerance
	// (a stale or replayed request).
	ErrTooOld = errors.New("signature: timestamp too old")
	// ErrTooNew reports a timestamp further in the future than the tolerance.
	ErrTooNew = errors.New("signature: timestamp too new")
)
