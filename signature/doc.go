// Package signature signs and verifies webhooks.
//
// It implements Standard Webhooks (https://www.standardwebhooks.com) version
// v1 (HMAC-SHA256) and v1a (ed25519), with key rotation, a timestamp
// tolerance checked in both directions and constant-time comparison, plus
// the schemes of well-known providers (GitHub, Stripe, Shopify, Slack) and a
// configurable single-header HMAC scheme for the rest. Every scheme
// implements Verifier, which is what receiver.Handler takes.
//
// # Keys
//
// ParseKey reads "whsec_…" (or bare base64) HMAC secrets, "whsk_…" ed25519
// secret keys and "whpk_…" ed25519 public keys. A Keyring holds several keys
// for rotation; each may carry a NotAfter after which it neither signs nor
// verifies. Keys never print their secret material: fmt (every verb), slog,
// encoding/json and errors all see a redacted form.
//
// # Standard Webhooks
//
// A Signer signs "{webhook-id}.{webhook-timestamp}.{body}" with every active
// key and produces the webhook-signature header ("v1,<base64> v1a,<base64>").
// A StandardVerifier accepts the request when any of the first MaxEntries
// entries matches any active key and the timestamp is within Tolerance
// (default five minutes, in both directions; only a distance strictly greater
// than the tolerance fails, so with whole seconds ±300 s passes and ±301 s
// fails). Headers are read as webhook-* or, failing that, svix-*. The clock
// is a plain func() time.Time, so tests need no sleeping.
//
// Unlike the reference libraries, ids and timestamps are validated: ids are
// 1 to 255 printable ASCII bytes without '.', timestamps are canonical
// decimal. Without this, id "a", timestamp T and body "<T+1>.tail" sign the
// same bytes as id "a.T", timestamp T+1 and body "tail". A header given twice
// is refused with ErrInvalidHeader rather than guessed at.
//
// # Speed
//
// Nothing copies the body: the prefix and the body are written into a pooled
// HMAC whose keyed inner and outer states are precomputed, so a v1 sign or
// verify costs about what a raw HMAC-SHA256 over the same bytes costs and
// allocates nothing on verify. (ed25519 cannot stream, so v1a builds the
// signed string once.)
//
// # Errors
//
// Errors wrap the sentinels ErrMissingHeaders, ErrInvalidHeader,
// ErrNoMatchingSignature, ErrTooOld, ErrTooNew (verification) and
// ErrEmptyKey, ErrKeyTooShort, ErrInvalidKey, ErrNoSigningKey (keys); test
// them with errors.Is. A receiver should answer every verification error
// with the same status and not echo the detail to the sender.
package signature
